/** RFC 9420 (+ mls-extensions-09) structs and their TLS codecs. See ../README.md. */
export * from './basics';
export * from './tree';
