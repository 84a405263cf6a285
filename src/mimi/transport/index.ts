/** Public API of the MIMI provider-to-provider transport (see src/mimi/README.md, "Transport"). */
export { MimiTransportModule } from './mimi-transport.module';
export { MIMI_TRANSPORT_OPTIONS, type MimiTransportOptions } from './mimi-transport.options';
export {
  MimiPeerClient,
  type MimiResponse,
  type MimiRequestOptions,
  MAX_MIMI_RESPONSE_BYTES,
} from './mimi-peer.client';
export { PeerRegistry, type PeerInfo, DIRECTORY_TTL_MS } from './peer-registry';
export { MimiPeerGuard, MimiPeer, type MimiPeerIdentity, authenticatePeerRequest } from './mimi-peer.guard';
export { GatewayExceptionFilter, toHttpError, type ErrorBody } from './gateway-exception.filter';
export { MimiRawBodyMiddleware, MAX_MIMI_BODY_BYTES, MIMI_CONTENT_TYPE } from './raw-body.middleware';
export { TransportTls, type TrustAnchor, type MimiHttpsOptions, buildHttpsOptions } from './transport-tls';
export {
  MIMI_DIRECTORY_PATH,
  MIMI_ROUTES,
  MIMI_ROUTE_PARAM,
  SERVED_ENDPOINTS,
  roomPathSegment,
  parseRoomPathSegment,
  parseMimiPathParam,
  ParseRoomUriPipe,
  ParseUserUriPipe,
} from './mimi-paths';
export { type MimiDirectory, buildDirectory, parseDirectory } from './mimi-directory';
export { MimiDirectoryController } from './mimi-directory.controller';
export {
  certificateIdentity,
  matchesDomain,
  parseFromHeader,
  parseHostHeader,
  type CertificateIdentity,
} from './tls-identity';
export { parseRetryAfter } from './retry-after';
