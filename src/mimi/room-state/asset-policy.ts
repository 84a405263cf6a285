/**
 * room-policy-03 §6.4 `asset_policy`: where a room's attachments are uploaded, how they may be
 * downloaded, and which sizes and media types are accepted.
 *
 * `MediaType` is mls-extensions-09 §6.2.2's (`opaque media_type<V>; Parameter parameters<V>;`).
 *
 * Draft issue: `optional<MediaType> permitted_media_types<V>` mixes `optional<>` and a vector; we
 * read it as an optional vector (a presence octet, then `MediaType permitted_media_types<V>` when
 * present), which is the only reading that can say "absent" apart from "empty".
 */
import { CodecError } from '../../common/errors';
import { TlsReader, type TlsWriter, writeTls } from '../../codec/tls-codec';

/** §6.4 `AssetUploadLocation`. */
const AssetUploadLocation = { unspecified: 0, localProvider: 1, hub: 2 } as const;
type AssetUploadLocation = keyof typeof AssetUploadLocation;

/** §6.4 `DownloadPrivacyType`: direct (protocol-06 §5.10.1), hubProxy (§5.10.2), ohttp (§5.10.3). */
const DownloadPrivacyType = { direct: 0, hubProxy: 1, ohttp: 2 } as const;
type DownloadPrivacyType = keyof typeof DownloadPrivacyType;

/** mls-extensions-09 §6.2.2 `MediaType`, e.g. `{ mediaType: 'text/plain', parameters: [['charset', 'UTF-8']] }`. */
export interface MediaType {
  readonly mediaType: string;
  readonly parameters: readonly (readonly [name: string, value: string])[];
}

export interface AssetPolicy {
  readonly uploadLocation: AssetUploadLocation;
  /** Per provider domain, the domains its clients' asset URLs may name. */
  readonly uploadDomains: readonly { readonly provider: string; readonly destinations: readonly string[] }[];
  readonly allowedDownloadTypes: readonly DownloadPrivacyType[];
  readonly forbiddenDownloadTypes: readonly DownloadPrivacyType[];
  readonly defaultDownloadType: DownloadPrivacyType;
  /** Maximum sizes in bytes (uint64; kept as bigint so that no value is rounded). */
  readonly maxImage: bigint;
  readonly maxAudio: bigint;
  readonly maxVideo: bigint;
  readonly maxAttachment: bigint;
  readonly forbiddenMediaTypes: readonly MediaType[];
  /** Absent: any type not forbidden. */
  readonly permittedMediaTypes?: readonly MediaType[];
}

function writeMediaType(w: TlsWriter, m: MediaType): void {
  w.utf8(m.mediaType);
  w.vector(m.parameters, (p, [name, value]) => {
    p.utf8(name);
    p.utf8(value);
  });
}

function readMediaType(r: TlsReader): MediaType {
  const mediaType = r.field('media_type', (x) => x.utf8());
  if (!/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/i.test(mediaType)) {
    throw new CodecError(`MediaType: ${JSON.stringify(mediaType)} is not type/subtype`);
  }
  const parameters = r.field('parameters', (x) =>
    x.vector((p): [string, string] => [
      p.field('parameter_name', (y) => y.utf8()),
      p.field('parameter_value', (y) => y.utf8()),
    ]),
  );
  return { mediaType, parameters };
}

const LOCATIONS = Object.keys(AssetUploadLocation) as AssetUploadLocation[];
const DOWNLOAD_TYPES = Object.keys(DownloadPrivacyType) as DownloadPrivacyType[];

function readEnum<T>(r: TlsReader, names: readonly T[], what: string): T {
  const at = r.offset;
  const name = names[r.uint8()];
  return name === undefined ? r.fail(`unknown ${what}`, at) : name;
}

export function encodeAssetPolicy(p: AssetPolicy): Uint8Array {
  return writeTls((w) => {
    w.uint8(AssetUploadLocation[p.uploadLocation]);
    w.vector(p.uploadDomains, (v, d) => {
      v.utf8(d.provider);
      v.vector(d.destinations, (x, domain) => x.utf8(domain));
    });
    w.vector(p.allowedDownloadTypes, (v, t) => v.uint8(DownloadPrivacyType[t]));
    w.vector(p.forbiddenDownloadTypes, (v, t) => v.uint8(DownloadPrivacyType[t]));
    w.uint8(DownloadPrivacyType[p.defaultDownloadType]);
    w.uint64(p.maxImage);
    w.uint64(p.maxAudio);
    w.uint64(p.maxVideo);
    w.uint64(p.maxAttachment);
    w.vector(p.forbiddenMediaTypes, writeMediaType);
    w.optional(p.permittedMediaTypes, (x, list) => x.vector(list, writeMediaType));
  });
}

/** @throws CodecError on malformed bytes or an unknown enum value. */
export function decodeAssetPolicy(bytes: Uint8Array): AssetPolicy {
  const r = new TlsReader(bytes, 'AssetPolicy');
  const uploadLocation = readEnum(r, LOCATIONS, 'AssetUploadLocation');
  const uploadDomains = r.field('upload_domains', (x) =>
    x.vector((d) => ({
      provider: d.field('provider', (y) => y.utf8()),
      destinations: d.field('asset_upload_destinations', (y) => y.vector((z) => z.utf8())),
    })),
  );
  const allowedDownloadTypes = r.field('allowed_download_types', (x) =>
    x.vector((y) => readEnum(y, DOWNLOAD_TYPES, 'DownloadPrivacyType')),
  );
  const forbiddenDownloadTypes = r.field('forbidden_download_types', (x) =>
    x.vector((y) => readEnum(y, DOWNLOAD_TYPES, 'DownloadPrivacyType')),
  );
  const defaultDownloadType = readEnum(r, DOWNLOAD_TYPES, 'DownloadPrivacyType');
  const maxImage = r.field('max_image', (x) => x.uint64());
  const maxAudio = r.field('max_audio', (x) => x.uint64());
  const maxVideo = r.field('max_video', (x) => x.uint64());
  const maxAttachment = r.field('max_attachment', (x) => x.uint64());
  const forbiddenMediaTypes = r.field('forbidden_media_types', (x) => x.vector(readMediaType));
  const permittedMediaTypes = r.field('permitted_media_types', (x) => x.optional((y) => y.vector(readMediaType)));
  r.done();
  return {
    uploadLocation,
    uploadDomains,
    allowedDownloadTypes,
    forbiddenDownloadTypes,
    defaultDownloadType,
    maxImage,
    maxAudio,
    maxVideo,
    maxAttachment,
    forbiddenMediaTypes,
    ...(permittedMediaTypes ? { permittedMediaTypes } : {}),
  };
}
