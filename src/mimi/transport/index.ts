/** Public API of the MIMI provider-to-provider transport (see src/mimi/README.md, "Transport"). */
export { MimiTransportModule } from './mimi-transport.module';
export { MimiPeerClient } from './mimi-peer.client';
export { MimiAssetClient } from './mimi-asset.client';
export { MIMI_ASSET_ROUTE, assetUrl, isAssetId, parseAssetUrl, type AssetRef } from './mimi-asset-paths';
export { MimiPeerGuard, MimiPeer } from './mimi-peer.guard';
export { MimiRateLimitGuard, RateLimited } from './peer-rate-limit';
export { GatewayExceptionFilter } from './gateway-exception.filter';
export { MIMI_CONTENT_TYPE } from './raw-body.middleware';
export { buildHttpsOptions } from './transport-tls';
export { hardenListener } from './connection-limits';
export {
  MIMI_ROUTES,
  MIMI_ROUTE_PARAM,
  ParseDomainPipe,
  ParseDownloadUrlPipe,
  ParseRoomUriPipe,
  ParseUserUriPipe,
} from './mimi-paths';
export { matchesDomain } from './tls-identity';
