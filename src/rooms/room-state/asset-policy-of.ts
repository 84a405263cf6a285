/**
 * The `asset_policy` (room-policy-03 §6.4) a hub writes into a room it links, from `media:` in the
 * config: what this gateway actually does with attachments (docs/EXTENSIONS.md "Attachments").
 *
 * - Upload location `unspecified`: each gateway serves its own users' files from its own MIMI
 *   listener (localProvider in practice), but the follower providers are not known when the room
 *   is linked, and a `localProvider` list without them would make strict clients refuse their
 *   files. The hub's own entry is listed.
 * - Downloads: `hubProxy` only (protocol-06 §5.10.2, `GET /proxyDownload/{url}`). `direct` is
 *   forbidden (our asset endpoint serves authenticated providers, not clients), and so is `ohttp`,
 *   which this gateway does not offer.
 * - Every maximum is `media.maxBytes`; permitted types are `media.allowedContentTypes`, unless one
 *   of them is a `type/*` wildcard, which a MediaType cannot say: then no permitted list is sent
 *   (the gateway still enforces the wildcard).
 */
import type { AssetPolicy, MediaType } from '../../mimi/room-state';

export interface AssetLimits {
  readonly maxBytes: number;
  readonly allowedContentTypes: readonly string[];
}

export function assetPolicyOf(hubDomain: string, hubOrigin: string, limits: AssetLimits): AssetPolicy {
  const max = BigInt(limits.maxBytes);
  const wildcard = limits.allowedContentTypes.some((t) => t.endsWith('/*'));
  const permitted: MediaType[] = limits.allowedContentTypes.map((t) => ({
    mediaType: t.toLowerCase(),
    parameters: [],
  }));
  return {
    uploadLocation: 'unspecified',
    uploadDomains: [{ provider: hubDomain, destinations: [new URL(hubOrigin).hostname] }],
    allowedDownloadTypes: ['hubProxy'],
    forbiddenDownloadTypes: ['direct', 'ohttp'],
    defaultDownloadType: 'hubProxy',
    maxImage: max,
    maxAudio: max,
    maxVideo: max,
    maxAttachment: max,
    forbiddenMediaTypes: [],
    ...(wildcard ? {} : { permittedMediaTypes: permitted }),
  };
}
