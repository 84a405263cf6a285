/**
 * MIMI protocol wire formats (draft-ietf-mimi-protocol-06 §5): the TLS presentation language
 * codec and the request/response structs of every endpoint. Decode with
 * `decodeAll(bytes, xxxCodec)`, encode with `encodeValue(value, xxxCodec)`; both throw only
 * CodecError. Embedded MLS values stay as their exact bytes (`MlsMessageBytes`, ...).
 */
export {
  MAX_VECTOR_LENGTH,
  TlsReader,
  TlsWriter,
  codec,
  decodeAll,
  decodeConcatenated,
  encodeConcatenated,
  encodeValue,
  enumCodec,
  fixedOpaque,
  opaque,
  optionalOf,
  uint16,
  uint32,
  uint64,
  uint8,
  utf8,
  vectorOf,
  type Codec,
  type Decoder,
  type Encoder,
  type EnumTable,
} from '../../codec/tls-codec';
export {
  ContentType,
  SenderType,
  WireFormat,
  asCapabilities,
  asCredential,
  asGroupInfo,
  asKeyPackage,
  asMlsMessage,
  asRequiredCapabilities,
  asWelcome,
  capabilitiesCodec,
  credentialCodec,
  describeMlsMessage,
  groupInfoCodec,
  inspectMlsMessage,
  isHandshake,
  keyPackageCodec,
  mlsMessageCodec,
  readMlsMessage,
  requiredCapabilitiesCodec,
  welcomeCodec,
  type CapabilitiesBytes,
  type CredentialBytes,
  type GroupInfoBytes,
  type KeyPackageBytes,
  type MlsBytes,
  type MlsMessageBytes,
  type MlsMessageInfo,
  type RequiredCapabilitiesBytes,
  type WelcomeBytes,
} from './mls-framing';
export * from './common';
export * from './key-material';
export * from './update';
export * from './submit-message';
export * from './fanout';
export * from './group-info';
export * from './consent';
export * from './identifier-query';
export * from './abuse-report';
