/**
 * Where an attachment is served (docs/EXTENSIONS.md "Attachments through the hub"; no MIMI draft
 * defines it): `GET <base>/mimiAsset/<room URI>/<minting domain>/<asset ID>` on the MIMI
 * listener, mutual TLS like every MIMI endpoint. The room URI is one percent-encoded segment as in
 * mimi-paths.ts; the asset ID is opaque, minted by the gateway named in the path.
 *
 * A receiving gateway never fetches the URL as written: it takes the three values from it and asks
 * the room's hub (or, being the hub, the minting provider) through its own peer directory.
 */
import { isProviderDomain } from '../../common/ids';
import { parseRoomPathSegment, roomPathSegment } from './mimi-paths';

/** The path segment before the three values. */
const MIMI_ASSET_SEGMENT = 'mimiAsset';

/** The Nest route of the asset endpoint (see MimiAssetsController). */
export const MIMI_ASSET_ROUTE = `${MIMI_ASSET_SEGMENT}/:roomId/:minter/:assetId`;

/** What a minted asset ID looks like: 32 random bytes, base64url. */
const ASSET_ID = /^[A-Za-z0-9_-]{16,64}$/;

/** One attachment as the asset endpoint names it. */
export interface AssetRef {
  readonly roomUri: string;
  /** The provider that minted the ID and holds the bytes on its platform. */
  readonly minter: string;
  readonly assetId: string;
}

export function isAssetId(id: string): boolean {
  return ASSET_ID.test(id);
}

/** The path of `ref` below a provider's MIMI base URL (no leading slash). */
export function assetPath(ref: AssetRef): string {
  return `${MIMI_ASSET_SEGMENT}/${roomPathSegment(ref.roomUri)}/${ref.minter}/${ref.assetId}`;
}

/** The URL an ExternalPart carries for `ref`, below `baseUrl` (our `provider.publicBaseUrl`). */
export function assetUrl(baseUrl: string, ref: AssetRef): string {
  return `${baseUrl.replace(/\/+$/, '')}/${assetPath(ref)}`;
}

/**
 * The asset an ExternalPart URL names, when it is one made by `assetUrl` (any base), else
 * undefined. Only the last three path segments count; the host is ignored.
 */
export function parseAssetUrl(url: string): AssetRef | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'https:' || parsed.search !== '' || parsed.hash !== '') return undefined;
  const segments = parsed.pathname.split('/');
  const [segment, room, minter, assetId] = segments.slice(-4);
  if (segments.length < 5 || segment !== MIMI_ASSET_SEGMENT || room === undefined) return undefined;
  if (minter === undefined || !isProviderDomain(minter) || assetId === undefined || !isAssetId(assetId)) {
    return undefined;
  }
  try {
    return { roomUri: parseRoomPathSegment(room), minter, assetId };
  } catch {
    return undefined;
  }
}
