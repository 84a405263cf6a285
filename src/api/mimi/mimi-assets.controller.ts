/**
 * Downloads, thin (the decisions are MediaAssets', src/rooms/media-assets.ts):
 * - the asset endpoint (docs/EXTENSIONS.md "Attachments through the hub"; not a MIMI draft
 *   endpoint): `GET /mimiAsset/{roomId}/{minter}/{assetId}` serves the bytes of an attachment
 *   posted in a room, to an authenticated peer provider with clients in that room;
 * - protocol-06 §5.10.2 `GET /proxyDownload/{downloadUrl}`, the hub's download proxy.
 * Both count against the peer's `limits.requests.proxyDownload` budget.
 */
import { Controller, Get, Header, Param, StreamableFile, UseGuards } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../../common/errors';
import { type ProviderDomain, type RoomUri, isProviderDomain } from '../../common/ids';
import {
  MIMI_ASSET_ROUTE,
  MIMI_ROUTES,
  MIMI_ROUTE_PARAM,
  MimiPeer,
  MimiPeerGuard,
  MimiRateLimitGuard,
  ParseDownloadUrlPipe,
  ParseRoomUriPipe,
  RateLimited,
  isAssetId,
} from '../../mimi/transport';
import type { MediaBytes } from '../../ports';
import { MediaAssets } from '../../rooms';

@Controller()
@UseGuards(MimiPeerGuard, MimiRateLimitGuard)
export class MimiAssetsController {
  constructor(private readonly media: MediaAssets) {}

  /** 200 with the bytes; 403 not in the room, 404 unknown, 413 too large, 415 type not allowed. */
  @Get(MIMI_ASSET_ROUTE)
  @RateLimited('proxyDownload')
  @Header('x-content-type-options', 'nosniff')
  @Header('content-security-policy', "default-src 'none'")
  async asset(
    @MimiPeer() peer: ProviderDomain,
    @Param('roomId', ParseRoomUriPipe) roomUri: RoomUri,
    @Param('minter') minter: string,
    @Param('assetId') assetId: string,
  ): Promise<StreamableFile> {
    if (!isProviderDomain(minter) || !isAssetId(assetId)) {
      throw new GatewayError(ErrorCode.BadValue, 'not an asset of this gateway: bad provider domain or asset ID');
    }
    return download(await this.media.serve(peer, { roomUri, minter, assetId }));
  }

  /** protocol-06 §5.10.2. 200 with the bytes; 400 not an https URL; 403 not a peer's asset server or not in the room. */
  @Get(MIMI_ROUTES.proxyDownload)
  @RateLimited('proxyDownload')
  @Header('x-content-type-options', 'nosniff')
  @Header('content-security-policy', "default-src 'none'")
  async proxyDownload(
    @MimiPeer() peer: ProviderDomain,
    @Param(MIMI_ROUTE_PARAM.proxyDownload, ParseDownloadUrlPipe) url: URL,
  ): Promise<StreamableFile> {
    return download(await this.media.proxyDownload(peer, url));
  }
}

function download(file: MediaBytes): StreamableFile {
  return new StreamableFile(Buffer.from(file.bytes), {
    type: file.contentType,
    length: file.bytes.length,
    disposition: 'attachment',
  });
}
