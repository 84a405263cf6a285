import { ErrorCode, GatewayError, PlatformError } from '../common/errors';
import { Platform, type ProviderDomain } from '../common/ids';
import type { GatewayConfig } from '../config/gateway-config';
import { MediaConfig } from '../config/media-config';
import { type AssetRef, type MimiAssetClient, assetUrl, parseAssetUrl } from '../mimi/transport';
import type { Tx } from '../persistence';
import type { MediaAssetRecord, MediaAssetRepository } from '../persistence/repositories/media-asset.repository';
import type { RoomRecord } from '../persistence/repositories/room.repository';
import type { MediaTransfer, MessageAction, PlatformBridge } from '../ports';
import { MediaAssets } from './media-assets';
import type { AvatarSource } from './profile-sync';
import type { RoomSupport } from './room-support';

const US = 'a.example' as ProviderDomain;
const PEER = 'b.example' as ProviderDomain;
const STRANGER = 'c.example' as ProviderDomain;
const ROOM_URI = 'mimi://a.example/r/lobby';
const HS_URL = 'https://hs.test/_matrix/client/v1/media/download/hs.test/abc';
const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
const TX = {} as Tx;

function room(role: 'hub' | 'follower', hubDomain: ProviderDomain = US): RoomRecord {
  return { roomUri: ROOM_URI, role, hubDomain, platform: 'matrix', legacyRoomId: '!r:hs' } as unknown as RoomRecord;
}

class FakeBridge implements Partial<PlatformBridge>, MediaTransfer {
  readonly platform = 'matrix' as PlatformBridge['platform'];
  readonly uploads: { as: string; filename: string; contentType: string; bytes: Uint8Array }[] = [];
  served: { bytes: Uint8Array; contentType: string } = { bytes: PNG, contentType: 'image/png' };
  holdsMedia(url: string): boolean {
    return url.startsWith('https://hs.test/');
  }
  async downloadMedia(url: string, maxBytes: number): Promise<{ bytes: Uint8Array; contentType: string }> {
    if (url !== HS_URL) throw new PlatformError(ErrorCode.PlatformRejected, 'foreign', { retryable: false });
    if (this.served.bytes.length > maxBytes) throw new PlatformError(ErrorCode.PayloadTooLarge, 'too big');
    return this.served;
  }
  async uploadMedia(
    _r: unknown,
    as: { userUri: string },
    file: { bytes: Uint8Array; contentType: string; filename: string },
  ): Promise<string> {
    this.uploads.push({ as: as.userUri, ...file });
    return `https://hs.test/local/${this.uploads.length}`;
  }
}

function setup(
  opts: {
    role?: 'hub' | 'follower';
    hubDomain?: ProviderDomain;
    media?: Partial<MediaConfig>;
    peerFile?: { bytes: Uint8Array; contentType: string };
  } = {},
) {
  const bridge = new FakeBridge();
  const records = new Map<string, MediaAssetRecord>();
  const repo = {
    insert: async (_tx: Tx | undefined, r: MediaAssetRecord) => void records.set(r.assetId, r),
    insertIfAbsent: async (_tx: Tx | undefined, r: MediaAssetRecord) => {
      if (!records.has(r.assetId)) records.set(r.assetId, r);
    },
    find: async (_tx: Tx | undefined, id: string) => records.get(id),
  } as unknown as MediaAssetRepository;
  const theRoom = room(opts.role ?? 'hub', opts.hubDomain);
  const support = {
    domain: US,
    bridge: () => bridge,
    legacyRoom: () => ({ platform: 'matrix', roomId: theRoom.legacyRoomId }),
    rooms: { findByUri: async (_tx: unknown, uri: string) => (uri === ROOM_URI ? theRoom : undefined) },
    groupView: async () => ({ members: [] }),
    followerDomains: () => [PEER],
    profiles: { useAvatarSource: (s: AvatarSource) => void (avatars.source = s) },
  } as unknown as RoomSupport;
  const avatars: { source?: AvatarSource } = {};
  const fetched: { from: string; ref: AssetRef }[] = [];
  const proxied: { hub: string; url: string }[] = [];
  const fromPeers: { peer: string; url: string }[] = [];
  const remote = { bytes: new Uint8Array([9, 9, 9]), contentType: 'image/gif' };
  const client = {
    fetch: async (from: string, ref: AssetRef) => {
      fetched.push({ from, ref });
      return remote;
    },
    viaHubProxy: async (hub: string, url: string) => {
      proxied.push({ hub, url });
      return remote;
    },
    peerServing: (url: URL) => (url.origin === 'https://files.b.example' ? PEER : undefined),
    fetchFromPeer: async (peer: string, url: URL) => {
      fromPeers.push({ peer, url: url.href });
      return opts.peerFile ?? remote;
    },
  } as unknown as MimiAssetClient;
  const media = Object.assign(new MediaConfig(), opts.media ?? {});
  const config = {
    provider: { domain: US, publicBaseUrl: 'https://gw.a.example:8443' },
    media,
  } as unknown as GatewayConfig;
  return {
    service: new MediaAssets(support, repo, config, client),
    bridge,
    records,
    fetched,
    proxied,
    fromPeers,
    theRoom,
    avatars,
  };
}

const post = (url: string, extra: object = {}): MessageAction => ({
  type: 'post',
  body: { kind: 'text', text: '', attachments: [{ url, contentType: 'image/png', filename: 'cat.png', ...extra }] },
});

function urlOf(action: MessageAction): string | undefined {
  return action.type === 'post' ? action.body.attachments?.[0]?.url : undefined;
}

describe('MediaAssets', () => {
  it('publishes a platform file as an asset of ours in that room, and serves its bytes to a provider in the room', async () => {
    const { service, records, theRoom } = setup();
    const out = await service.publish(TX, theRoom, post(HS_URL));
    const ref = parseAssetUrl(urlOf(out)!)!;
    expect(urlOf(out)!.startsWith('https://gw.a.example:8443/mimiAsset/')).toBe(true);
    expect(ref).toMatchObject({ roomUri: ROOM_URI, minter: US });
    expect(records.get(ref.assetId)).toEqual({
      assetId: ref.assetId,
      roomUri: ROOM_URI,
      platform: 'matrix',
      sourceUrl: HS_URL,
      contentType: 'image/png',
    });
    expect(await service.serve(PEER, ref)).toEqual({ bytes: PNG, contentType: 'image/png' });
  });

  it('publishes every file of a post, each as an asset of its own, in order, next to a link left as it is', async () => {
    const { service, records, theRoom } = setup();
    const second = 'https://hs.test/_matrix/client/v1/media/download/hs.test/def';
    const action: MessageAction = {
      type: 'post',
      body: {
        kind: 'text',
        text: 'three',
        attachments: [
          { url: HS_URL, contentType: 'image/png', filename: 'a.png' },
          { url: 'https://files.example/x.png', contentType: 'image/png', filename: 'x.png' },
          { url: second, contentType: 'application/pdf', filename: 'b.pdf' },
        ],
      },
    };
    const out = await service.publish(TX, theRoom, action);
    const urls = out.type === 'post' ? (out.body.attachments ?? []).map((a) => a.url) : [];
    expect(urls).toHaveLength(3);
    expect(urls[1]).toBe('https://files.example/x.png');
    const refs = [urls[0]!, urls[2]!].map((u) => parseAssetUrl(u)!);
    expect(refs[0]!.assetId).not.toBe(refs[1]!.assetId);
    expect(refs.map((r) => records.get(r.assetId)?.sourceUrl)).toEqual([HS_URL, second]);
    expect(records.size).toBe(2);
  });

  it('leaves a link the bridge does not hold as it is (nothing minted)', async () => {
    const { service, records, theRoom } = setup();
    const out = await service.publish(TX, theRoom, post('https://files.example/x.png'));
    expect(urlOf(out)).toBe('https://files.example/x.png');
    expect(records.size).toBe(0);
  });

  it('refuses a provider without clients in the room, an unknown asset, and a type no longer allowed', async () => {
    const { service, theRoom } = setup({ media: { allowedContentTypes: ['image/png'] } });
    const ref = parseAssetUrl(urlOf(await service.publish(TX, theRoom, post(HS_URL)))!)!;
    await expect(service.serve(STRANGER, ref)).rejects.toMatchObject({ code: ErrorCode.Forbidden });
    await expect(service.serve(PEER, { ...ref, assetId: 'B'.repeat(43) })).rejects.toMatchObject({
      code: ErrorCode.NotFound,
    });
    await expect(service.serve(PEER, { ...ref, roomUri: 'mimi://a.example/r/other' })).rejects.toMatchObject({
      code: ErrorCode.NotFound,
    });
    const { service: strict, theRoom: r2 } = setup({ media: { allowedContentTypes: ['image/gif'] } });
    const ref2 = parseAssetUrl(urlOf(await strict.publish(TX, r2, post(HS_URL)))!)!;
    await expect(strict.serve(PEER, ref2)).rejects.toMatchObject({ code: ErrorCode.UnsupportedMediaType });
  });

  it('refuses to serve more than media.maxBytes', async () => {
    const { service, theRoom } = setup({ media: { maxBytes: 3 } });
    const ref = parseAssetUrl(urlOf(await service.publish(TX, theRoom, post(HS_URL)))!)!;
    await expect(service.serve(PEER, ref)).rejects.toMatchObject({ code: ErrorCode.PayloadTooLarge });
  });

  it('as the hub, passes on an asset a follower of the room minted; not one of a stranger', async () => {
    const { service, fetched } = setup();
    const ref = { roomUri: ROOM_URI, minter: PEER, assetId: 'C'.repeat(43) };
    expect(await service.serve(PEER, ref)).toEqual({ bytes: new Uint8Array([9, 9, 9]), contentType: 'image/gif' });
    expect(fetched).toEqual([{ from: PEER, ref }]);
    await expect(service.serve(PEER, { ...ref, minter: STRANGER })).rejects.toMatchObject({
      code: ErrorCode.NotFound,
    });
  });

  it('localizes a received asset: fetched through the hub’s proxyDownload (as a follower) and uploaded as the sender', async () => {
    const { service, bridge, fetched, proxied, theRoom } = setup({ role: 'follower', hubDomain: PEER });
    const ref = { roomUri: ROOM_URI, minter: STRANGER, assetId: 'D'.repeat(43) };
    const out = await service.localize(
      theRoom,
      { userUri: 'mimi://c.example/u/bob' as never },
      post(assetUrl('https://x', ref), { size: 3 }),
    );
    expect(proxied).toEqual([{ hub: PEER, url: assetUrl('https://x', ref) }]);
    expect(fetched).toEqual([]);
    expect(bridge.uploads).toEqual([
      { as: 'mimi://c.example/u/bob', filename: 'cat.png', contentType: 'image/gif', bytes: new Uint8Array([9, 9, 9]) },
    ]);
    expect(out).toEqual({
      type: 'post',
      body: {
        kind: 'text',
        text: '',
        attachments: [{ url: 'https://hs.test/local/1', contentType: 'image/gif', filename: 'cat.png', size: 3 }],
      },
    });
  });

  it('gives a text fallback, without fetching, for a file too large, of a type not allowed, or of another room', async () => {
    const { service, fetched, theRoom } = setup({ media: { maxBytes: 100 } });
    const ref = { roomUri: ROOM_URI, minter: PEER, assetId: 'E'.repeat(43) };
    const as = { userUri: 'mimi://b.example/u/bob' as never };
    const text = async (a: MessageAction): Promise<string> => {
      const out = await service.localize(theRoom, as, a);
      return out.type === 'post' ? out.body.text : '';
    };
    expect(await text(post(assetUrl('https://x', ref), { size: 101 }))).toBe(
      '📎 cat.png (101 bytes, image/png) not transferred: larger than the limit of 100 bytes',
    );
    expect(await text(post(assetUrl('https://x', ref), { contentType: 'text/html' }))).toBe(
      '📎 cat.png (text/html) not transferred: the type text/html is not allowed',
    );
    expect(await text(post(assetUrl('https://x', { ...ref, roomUri: 'mimi://b.example/r/x' })))).toBe(
      '📎 cat.png (image/png) not transferred: it belongs to another room',
    );
    expect(fetched).toEqual([]);
  });

  it('gives a text fallback when the fetch fails, and passes plain links on untouched', async () => {
    const { service, theRoom } = setup();
    (service as unknown as { client: MimiAssetClient }).client = {
      fetch: async () => {
        throw new GatewayError(ErrorCode.PeerUnavailable, 'b.example unreachable', { retryable: true });
      },
    } as unknown as MimiAssetClient;
    const ref = { roomUri: ROOM_URI, minter: PEER, assetId: 'F'.repeat(43) };
    const out = await service.localize(
      theRoom,
      { userUri: 'mimi://b.example/u/bob' as never },
      post(assetUrl('https://x', ref)),
    );
    expect(out.type === 'post' && out.body).toEqual({
      kind: 'text',
      text: '📎 cat.png (image/png) not transferred: it could not be fetched (b.example unreachable)',
    });
    const link = post('https://files.example/x.png');
    expect(await service.localize(theRoom, { userUri: 'mimi://b.example/u/bob' as never }, link)).toEqual(link);
  });

  describe('proxyDownload (protocol-06 §5.10.2, as the hub)', () => {
    it('answers an asset URL of ours like the asset endpoint, whatever host it names, never fetching the URL', async () => {
      const { service, theRoom, fromPeers } = setup();
      const ref = parseAssetUrl(urlOf(await service.publish(TX, theRoom, post(HS_URL)))!)!;
      const elsewhere = new URL(assetUrl('https://evil.example', ref));
      expect(await service.proxyDownload(PEER, elsewhere)).toEqual({ bytes: PNG, contentType: 'image/png' });
      await expect(service.proxyDownload(STRANGER, elsewhere)).rejects.toMatchObject({ code: ErrorCode.Forbidden });
      expect(fromPeers).toEqual([]);
    });

    it('fetches another URL only from the origin of a configured peer, within the allowed types', async () => {
      const { service, fromPeers } = setup();
      const file = new URL('https://files.b.example/media/cat.gif?v=1');
      expect(await service.proxyDownload(STRANGER, file)).toEqual({
        bytes: new Uint8Array([9, 9, 9]),
        contentType: 'image/gif',
      });
      expect(fromPeers).toEqual([{ peer: PEER, url: file.href }]);
      for (const url of ['https://files.c.example/x.gif', 'https://files.b.example:444/x.gif', 'https://127.0.0.1/']) {
        await expect(service.proxyDownload(PEER, new URL(url))).rejects.toMatchObject({ code: ErrorCode.Forbidden });
      }
      expect(fromPeers).toHaveLength(1);
    });

    it('refuses what a peer serves with a type not allowed', async () => {
      const { service } = setup({ peerFile: { bytes: new Uint8Array([1]), contentType: 'text/html' } });
      await expect(service.proxyDownload(PEER, new URL('https://files.b.example/x'))).rejects.toMatchObject({
        code: ErrorCode.UnsupportedMediaType,
      });
    });
  });

  describe('avatars (senderProfile)', () => {
    const sender = (avatarUrl?: string) => ({
      platform: Platform.Matrix,
      userId: '@alice:hs.test',
      displayName: 'Alice',
      ...(avatarUrl !== undefined ? { avatarUrl } : {}),
    });

    it('publishes an avatar the bridge holds as one asset of the room, the same for every message, and serves it', async () => {
      const { service, records, theRoom } = setup();
      const first = await service.publishProfile(TX, theRoom, sender(HS_URL));
      const again = await service.publishProfile(TX, theRoom, sender(HS_URL));
      expect(first).toEqual(again);
      expect(first.displayName).toBe('Alice');
      const ref = parseAssetUrl(first.avatarUrl!)!;
      expect(ref).toMatchObject({ roomUri: ROOM_URI, minter: US });
      expect(records.size).toBe(1);
      expect(records.get(ref.assetId)).toMatchObject({ sourceUrl: HS_URL, roomUri: ROOM_URI });
      expect(await service.serve(PEER, ref)).toEqual({ bytes: PNG, contentType: 'image/png' });
    });

    it('passes on an avatar the bridge does not hold, and a profile without one', async () => {
      const { service, records, theRoom } = setup();
      expect(await service.publishProfile(TX, theRoom, sender('https://cdn.example/a.png'))).toEqual({
        displayName: 'Alice',
        avatarUrl: 'https://cdn.example/a.png',
      });
      expect(await service.publishProfile(TX, theRoom, sender())).toEqual({ displayName: 'Alice' });
      expect(records.size).toBe(0);
    });

    it('gives profile sync the bytes of a remote avatar asset (through the hub’s proxyDownload), and nothing for other URLs', async () => {
      const { avatars, proxied } = setup({ role: 'follower', hubDomain: PEER });
      const ref = { roomUri: ROOM_URI, minter: STRANGER, assetId: 'G'.repeat(43) };
      expect(await avatars.source!(assetUrl('https://x', ref))).toEqual({
        bytes: new Uint8Array([9, 9, 9]),
        contentType: 'image/gif',
      });
      expect(proxied).toEqual([{ hub: PEER, url: assetUrl('https://x', ref) }]);
      expect(await avatars.source!('https://cdn.example/a.png')).toBeUndefined();
      expect(
        await avatars.source!(assetUrl('https://x', { ...ref, roomUri: 'mimi://a.example/r/gone' })),
      ).toBeUndefined();
    });

    it('refuses an avatar that is not an image', async () => {
      const { service, avatars } = setup({ role: 'follower', hubDomain: PEER });
      (service as unknown as { client: MimiAssetClient }).client = {
        viaHubProxy: async () => ({ bytes: new Uint8Array([1]), contentType: 'application/pdf' }),
      } as unknown as MimiAssetClient;
      const ref = { roomUri: ROOM_URI, minter: PEER, assetId: 'H'.repeat(43) };
      await expect(avatars.source!(assetUrl('https://x', ref))).rejects.toMatchObject({
        code: ErrorCode.UnsupportedMediaType,
      });
    });
  });
});
