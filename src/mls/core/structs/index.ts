/** RFC 9420 (+ mls-extensions-09) structs and their TLS codecs. See ../README.md. */
export * from './basics';
export * from './tree';
export * from './proposals';
export * from './group-context';
export * from './extensions';
export * from './framing';
export * from './private-message';
export * from './welcome';
export * from './message';
