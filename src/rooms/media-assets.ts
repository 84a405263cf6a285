/**
 * Attachments through the hub (docs/EXTENSIONS.md): the rooms core's side of carrying files
 * between platforms.
 *
 * - publish (a local user's post, hub or follower): each attachment the bridge reported gets an
 *   opaque asset ID, stored with the room and the platform URL (`media_asset`), and the
 *   ExternalPart carries our asset URL instead of the platform's (which peers cannot open).
 * - serve (GET on the MIMI listener): only to a provider with clients in the room; our own assets
 *   are read through the bridge (which fetches only from its own media store), within
 *   `media.maxBytes` and `media.allowedContentTypes`. As the room's hub we also pass on an asset a
 *   follower minted, so followers only ever talk to the hub.
 * - proxyDownload (protocol-06 §5.10.2, as a hub): an asset URL of ours as `serve`; any other
 *   only from a configured peer's own origin.
 * - localize (a message to post here): each asset is fetched (from the hub's proxyDownload; as
 *   the hub, from its minter's asset endpoint) and uploaded into the local platform; a file that cannot be becomes a line of text
 *   naming it and why, and the message is posted all the same.
 * - avatars: a local sender's avatar is an asset of the room too (publishProfile), and a remote
 *   sender's is fetched the same way for its ghost/puppet (avatarBytes, used by profile-sync.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { Injectable, Logger, Optional } from '@nestjs/common';
import { ErrorCode, GatewayError, errorMessage } from '../common/errors';
import type { ProviderDomain, RoomUri } from '../common/ids';
import type { SenderProfile } from '../mimi/content';
import { GatewayConfig } from '../config/gateway-config';
import { isAllowedContentType } from '../config/media-config';
import { type AssetRef, MimiAssetClient, assetUrl, parseAssetUrl } from '../mimi/transport';
import type { Tx } from '../persistence';
import { MediaAssetRepository } from '../persistence/repositories/media-asset.repository';
import type { RoomRecord } from '../persistence/repositories/room.repository';
import {
  type Attachment,
  type LegacyUserRef,
  type MediaBytes,
  type MediaTransfer,
  type MessageAction,
  type PlatformBridge,
  type RemoteUser,
  hasMediaTransfer,
} from '../ports';
import { type AttachmentOutcome, formatBytes, mapAttachments } from './media-fallback';
import { RoomSupport } from './room-support';

/** Bytes of an asset ID (base64url: 43 characters). */
const ASSET_ID_BYTES = 32;
/** The type recorded for an avatar (unknown until read; the bytes' own type is checked when served). */
const AVATAR_TYPES = 'image/*';

@Injectable()
export class MediaAssets {
  private readonly logger = new Logger(MediaAssets.name);
  private readonly baseUrl: string;

  constructor(
    private readonly support: RoomSupport,
    private readonly assets: MediaAssetRepository,
    private readonly config: GatewayConfig,
    @Optional() private readonly client?: MimiAssetClient,
  ) {
    this.baseUrl = config.provider.publicBaseUrl ?? `https://${config.provider.domain}`;
    // Remote senders' avatars are fetched as assets are (profile-sync.ts).
    support.profiles.useAvatarSource((url) => this.avatarBytes(url));
  }

  private get limits(): GatewayConfig['media'] {
    return this.config.media;
  }

  /** A local user's action with each attachment served by us (in `tx`, with the message). */
  async publish(tx: Tx, room: RoomRecord, action: MessageAction): Promise<MessageAction> {
    const bridge = this.support.bridge(room.platform);
    if (!hasMediaTransfer(bridge)) return action;
    return mapAttachments(action, async (a) => {
      if (!bridge.holdsMedia(a.url)) return { attachment: a };
      const assetId = randomBytes(ASSET_ID_BYTES).toString('base64url');
      await this.assets.insert(tx, {
        assetId,
        roomUri: room.roomUri,
        platform: room.platform,
        sourceUrl: a.url,
        contentType: a.contentType,
      });
      const ref = { roomUri: room.roomUri, minter: this.support.domain, assetId };
      return { attachment: { ...a, url: assetUrl(this.baseUrl, ref) } };
    });
  }

  /**
   * The profile a local user's message carries (`senderProfile`, docs/EXTENSIONS.md): an avatar the
   * bridge holds is served like an attachment, as an asset of the room; its ID is derived from the
   * room and the platform URL, so each message of the user names the same asset until the avatar
   * changes. Any other avatar URL is passed on (the extension keeps only https ones).
   */
  async publishProfile(tx: Tx, room: RoomRecord, sender: LegacyUserRef): Promise<SenderProfile> {
    const name = sender.displayName !== undefined ? { displayName: sender.displayName } : {};
    const url = sender.avatarUrl;
    if (url === undefined || url === '') return name;
    const bridge = this.support.bridge(room.platform);
    if (!hasMediaTransfer(bridge) || !bridge.holdsMedia(url)) return { ...name, avatarUrl: url };
    const assetId = createHash('sha256').update(`avatar\n${room.roomUri}\n${url}`).digest('base64url');
    await this.assets.insertIfAbsent(tx, {
      assetId,
      roomUri: room.roomUri,
      platform: room.platform,
      sourceUrl: url,
      contentType: AVATAR_TYPES,
    });
    return {
      ...name,
      avatarUrl: assetUrl(this.baseUrl, { roomUri: room.roomUri, minter: this.support.domain, assetId }),
    };
  }

  /**
   * The image an avatar URL of a `senderProfile` names, fetched as attachments are (from the room's
   * hub, or as the hub from its minter); undefined when it is not an asset URL of a room here.
   * @throws GatewayError when it cannot be fetched, is too large or not an allowed image type
   */
  async avatarBytes(url: string): Promise<MediaBytes | undefined> {
    const ref = parseAssetUrl(url);
    if (ref === undefined) return undefined;
    const room = await this.support.rooms.findByUri(undefined, ref.roomUri as RoomUri);
    if (room === undefined) return undefined;
    const file = await this.fetchAsset(room, ref, url);
    if (!essence(file.contentType).startsWith('image/')) {
      throw new GatewayError(ErrorCode.UnsupportedMediaType, `an avatar of type ${essence(file.contentType)}`);
    }
    return { ...file, contentType: essence(file.contentType) };
  }

  /**
   * The bytes of asset `ref` for the provider `requester`.
   * @throws GatewayError NotFound (no such asset in that room), Forbidden (the requester has no
   *         client in the room), PayloadTooLarge, UnsupportedMediaType, or the platform's error
   */
  async serve(requester: ProviderDomain, ref: AssetRef): Promise<MediaBytes> {
    const roomUri = ref.roomUri as RoomUri;
    const room = await this.support.rooms.findByUri(undefined, roomUri);
    const view = room === undefined ? undefined : await this.support.groupView(roomUri);
    if (room === undefined || view === undefined) {
      throw new GatewayError(ErrorCode.NotFound, `no room ${roomUri} here`);
    }
    const providers = this.support.followerDomains(view);
    if (!providers.includes(requester)) {
      throw new GatewayError(ErrorCode.Forbidden, `${requester} has no client in ${roomUri}`);
    }
    if (ref.minter === this.support.domain) return this.ownAsset(ref);
    if (room.role === 'hub' && providers.includes(ref.minter as ProviderDomain)) {
      return this.fetch(ref.minter, ref);
    }
    throw new GatewayError(ErrorCode.NotFound, `no asset ${ref.assetId} of ${ref.minter} in ${roomUri}`);
  }

  /**
   * protocol-06 §5.10.2 `proxyDownload`, for the provider `requester`. An asset URL of the
   * mimiAsset form is answered as `serve` (the requester must have clients in its room; as the hub
   * we fetch a follower's asset from its minter; the URL itself is never fetched). Any other URL is
   * fetched only when it is on a configured peer's own origin (its asset server), within
   * `media.maxBytes` and `media.allowedContentTypes`: the hub is no open proxy.
   * @throws GatewayError Forbidden (not a peer's asset server), and those of `serve`
   */
  async proxyDownload(requester: ProviderDomain, url: URL): Promise<MediaBytes> {
    const ref = parseAssetUrl(url.href);
    if (ref !== undefined) return this.serve(requester, ref);
    const peer = this.client?.peerServing(url);
    if (peer === undefined || this.client === undefined) {
      throw new GatewayError(
        ErrorCode.Forbidden,
        `${url.origin} is not the asset server of a peer provider of ${this.support.domain}`,
      );
    }
    const file = await this.client.fetchFromPeer(peer, url, this.fetchLimits);
    this.checkType(file.contentType);
    return file;
  }

  /** A received action with each asset uploaded into `room`'s platform, or replaced by a note. */
  async localize(room: RoomRecord, as: RemoteUser, action: MessageAction): Promise<MessageAction> {
    const bridge = this.support.bridge(room.platform);
    return mapAttachments(action, (a) => this.localizeOne(room, bridge, as, a));
  }

  private async localizeOne(
    room: RoomRecord,
    bridge: PlatformBridge,
    as: RemoteUser,
    a: Attachment,
  ): Promise<AttachmentOutcome> {
    const ref = parseAssetUrl(a.url);
    // Not an asset: a plain link, passed on as before (bridges link it or leave it out).
    if (ref === undefined) return { attachment: a };
    const refused = this.refusal(a.contentType, a.size);
    if (refused !== undefined) return { notTransferred: refused };
    if (ref.roomUri !== room.roomUri) return { notTransferred: 'it belongs to another room' };
    if (!hasMediaTransfer(bridge)) return { notTransferred: `the ${bridge.platform} bridge cannot store files` };
    try {
      const file = await this.fetchAsset(room, ref, a.url);
      const contentType = essence(file.contentType);
      const url = await (bridge as PlatformBridge & MediaTransfer).uploadMedia(this.support.legacyRoom(room), as, {
        bytes: file.bytes,
        contentType,
        filename: a.filename ?? 'file',
      });
      return { attachment: { ...a, url, contentType, size: file.bytes.length } };
    } catch (e) {
      this.logger.warn(`room=${room.roomUri} asset=${ref.minter}/${ref.assetId}: not transferred: ${errorMessage(e)}`);
      return { notTransferred: reasonOf(e) };
    }
  }

  /** Why a file of this type and size is not carried, or undefined when it is. */
  private refusal(contentType: string, size: number | undefined): string | undefined {
    if (!isAllowedContentType(contentType, this.limits.allowedContentTypes)) {
      return `the type ${essence(contentType)} is not allowed`;
    }
    if (size !== undefined && size > this.limits.maxBytes) {
      return `larger than the limit of ${formatBytes(this.limits.maxBytes)}`;
    }
    return undefined;
  }

  private async ownAsset(ref: AssetRef): Promise<MediaBytes> {
    const record = await this.assets.find(undefined, ref.assetId);
    if (record === undefined || record.roomUri !== ref.roomUri) {
      throw new GatewayError(ErrorCode.NotFound, `no asset ${ref.assetId} in ${ref.roomUri}`);
    }
    if (record.contentType !== AVATAR_TYPES) this.checkType(record.contentType);
    const bridge = this.support.bridge(record.platform);
    if (!hasMediaTransfer(bridge)) {
      throw new GatewayError(ErrorCode.NotFound, `the ${record.platform} bridge cannot read files any more`);
    }
    const file = await bridge.downloadMedia(record.sourceUrl, this.limits.maxBytes);
    this.checkType(file.contentType);
    return file;
  }

  private async fetch(from: string, ref: AssetRef): Promise<MediaBytes> {
    if (this.client === undefined) throw new GatewayError(ErrorCode.PeerUnavailable, 'no MIMI transport');
    const file = await this.client.fetch(from, ref, this.fetchLimits);
    this.checkType(file.contentType);
    return file;
  }

  /**
   * The bytes of asset `ref` (named by `url`) for use in `room`: our own; as the hub, from its
   * minter's asset endpoint; as a follower, through the hub's proxyDownload.
   */
  private fetchAsset(room: RoomRecord, ref: AssetRef, url: string): Promise<MediaBytes> {
    if (ref.minter === this.support.domain) return this.ownAsset(ref);
    return room.role === 'hub' ? this.fetch(ref.minter, ref) : this.viaHub(room.hubDomain, url);
  }

  /** A follower's download: through the hub's proxyDownload (protocol-06 §5.10.2). */
  private async viaHub(hub: string, url: string): Promise<MediaBytes> {
    if (this.client === undefined) throw new GatewayError(ErrorCode.PeerUnavailable, 'no MIMI transport');
    const file = await this.client.viaHubProxy(hub, url, this.fetchLimits);
    this.checkType(file.contentType);
    return file;
  }

  private get fetchLimits(): { maxBytes: number; timeoutMs: number } {
    return { maxBytes: this.limits.maxBytes, timeoutMs: this.limits.fetchTimeoutMs };
  }

  private checkType(contentType: string): void {
    if (!isAllowedContentType(contentType, this.limits.allowedContentTypes)) {
      throw new GatewayError(ErrorCode.UnsupportedMediaType, `the type ${essence(contentType)} is not allowed`);
    }
  }
}

/** `image/png` of `image/png; charset=x`. */
function essence(contentType: string): string {
  return contentType.split(';')[0]!.trim().toLowerCase();
}

/** Refusals whose message is the reason shown to users; anything else is a failed fetch. */
const REFUSALS: ReadonlySet<ErrorCode> = new Set([
  ErrorCode.PayloadTooLarge,
  ErrorCode.UnsupportedMediaType,
  ErrorCode.NotFound,
  ErrorCode.Forbidden,
  ErrorCode.PlatformRejected,
]);

/** The reason shown to users for a failed transfer. */
function reasonOf(e: unknown): string {
  if (!(e instanceof GatewayError)) return 'an internal error';
  return REFUSALS.has(e.code) ? e.message : `it could not be fetched (${e.message})`;
}
