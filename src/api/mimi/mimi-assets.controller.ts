/**
 * The asset endpoint (docs/EXTENSIONS.md "Attachments through the hub"; not a MIMI draft
 * endpoint): `GET /mimiAsset/{roomId}/{minter}/{assetId}` serves the bytes of an attachment posted
 * in a room, to an authenticated peer provider with clients in that room. Thin: the decisions are
 * MediaAssets' (src/rooms/media-assets.ts).
 */
import { Controller, Get, Header, Param, StreamableFile, UseGuards } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../../common/errors';
import { type ProviderDomain, type RoomUri, isProviderDomain } from '../../common/ids';
import { MIMI_ASSET_ROUTE, MimiPeer, MimiPeerGuard, ParseRoomUriPipe, isAssetId } from '../../mimi/transport';
import { MediaAssets } from '../../rooms';

@Controller()
@UseGuards(MimiPeerGuard)
export class MimiAssetsController {
  constructor(private readonly media: MediaAssets) {}

  /** 200 with the bytes; 403 not in the room, 404 unknown, 413 too large, 415 type not allowed. */
  @Get(MIMI_ASSET_ROUTE)
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
    const file = await this.media.serve(peer, { roomUri, minter, assetId });
    return new StreamableFile(Buffer.from(file.bytes), {
      type: file.contentType,
      length: file.bytes.length,
      disposition: 'attachment',
    });
  }
}
