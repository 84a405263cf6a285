/**
 * MIMI protocol wire formats (draft-ietf-mimi-protocol-06 §5): the TLS presentation language
 * codec and the request/response structs of every endpoint. Decode with
 * `decodeAll(bytes, xxxCodec)`, encode with `encodeValue(value, xxxCodec)`; both throw only
 * CodecError. Embedded MLS values stay as their exact bytes (`MlsMessageBytes`, ...).
 */
export { TlsReader, TlsWriter, decodeAll, encodeValue, type Codec } from '../../codec/tls-codec';
export {
  asCapabilities,
  asCredential,
  asGroupInfo,
  asKeyPackage,
  asMlsMessage,
  asRequiredCapabilities,
  asWelcome,
  inspectMlsMessage,
  type MlsMessageBytes,
} from './mls-values';
export * from './common';
export * from './key-material';
export * from './update';
export * from './submit-message';
export * from './fanout';
export * from './group-info';
export * from './consent';
export * from './identifier-query';
export * from './abuse-report';
