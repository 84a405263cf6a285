/**
 * MIMI endpoint paths and the room-ID-in-path convention.
 *
 * protocol-06 §5.2 puts the target user URI in the path "with any necessary percent-encoding";
 * for room IDs the draft is inconsistent (its flows write `/notify/a.example/r/clubhouse`, and even
 * `/groupInfo/a.example/clubhouse`). We put the FULL MIMI URI, percent-encoded with
 * encodeURIComponent, in ONE path segment: `mimi://a.example/r/club` → `mimi%3A%2F%2Fa.example%2Fr%2Fclub`.
 * It is lossless (the scheme and the `/r/` kind survive), needs no route wildcard, and Express 5
 * decodes such a parameter back exactly (see src/mimi/README.md, "Room ID in paths").
 */
import { PipeTransform } from '@nestjs/common';
import { ValidationError } from '../../common/errors';
import { type ProviderDomain, RoomUri, UserUri, isProviderDomain, parseMimiUri } from '../../common/ids';
import type { MimiEndpoint } from '../../ports/delivery-target.port';

export const MIMI_DIRECTORY_PATH = '/.well-known/mimi-protocol-directory';

/** The endpoints this gateway serves, in directory order (protocol-06 §5.1). */
export const SERVED_ENDPOINTS: readonly MimiEndpoint[] = [
  'keyMaterial',
  'update',
  'notify',
  'submitMessage',
  'groupInfo',
  'identifierQuery',
  'requestConsent',
  'updateConsent',
  'reportAbuse',
  'proxyDownload',
];

/** Template variables whose value is a provider domain, not a MIMI URI (protocol-06 §5.7, §5.8). */
const DOMAIN_VARIABLES = ['domain', 'targetDomain', 'requesterDomain'] as const;

/** The URI template variable of each endpoint's path (protocol-06 §5.1 directory example, §5.2–§5.9). */
export const ENDPOINT_TEMPLATE_VARIABLE: Readonly<
  Record<MimiEndpoint, 'targetUser' | 'roomId' | 'downloadUrl' | (typeof DOMAIN_VARIABLES)[number]>
> = {
  keyMaterial: 'targetUser',
  update: 'roomId',
  notify: 'roomId',
  submitMessage: 'roomId',
  groupInfo: 'roomId',
  identifierQuery: 'domain',
  requestConsent: 'targetDomain',
  updateConsent: 'requesterDomain',
  reportAbuse: 'roomId',
  proxyDownload: 'downloadUrl',
};

/**
 * Nest route paths for the controllers, e.g. `@Post(MIMI_ROUTES.notify)` with
 * `@Param(MIMI_ROUTE_PARAM.notify, ParseRoomUriPipe)`. Kept here so that the routes, the raw-body
 * middleware and our directory cannot drift apart.
 */
export const MIMI_ROUTES: Readonly<Record<MimiEndpoint, string>> = Object.fromEntries(
  SERVED_ENDPOINTS.map((e) => [e, `${e}/:${ENDPOINT_TEMPLATE_VARIABLE[e]}`]),
) as Record<MimiEndpoint, string>;

/**
 * The route parameter name of each endpoint (`roomId` or `targetUser`).
 * @alias of ENDPOINT_TEMPLATE_VARIABLE, named for the controllers' `@Param`
 */
export const MIMI_ROUTE_PARAM = ENDPOINT_TEMPLATE_VARIABLE;

/**
 * The path segment that carries a MIMI URI (room, or user for keyMaterial): the whole URI through
 * encodeURIComponent, so it never contains `/`, `?` or `#`.
 * @throws ValidationError when `uri` is not a MIMI URI or is not well-formed Unicode.
 */
export function roomPathSegment(uri: string): string {
  if (!parseMimiUri(uri)) throw new ValidationError(`not a MIMI URI: ${JSON.stringify(uri)}`);
  try {
    return encodeURIComponent(uri);
  } catch (e) {
    throw new ValidationError('a MIMI URI must be well-formed Unicode', { cause: e });
  }
}

/**
 * Inverse of roomPathSegment, for a RAW (still percent-encoded) path segment. Controllers receive
 * route parameters already decoded by Express: use parseMimiPathParam / the pipes for those, never
 * this function (decoding twice would corrupt URIs that contain `%`).
 * @throws ValidationError when the segment is badly encoded or does not hold a MIMI URI.
 */
export function parseRoomPathSegment(segment: string): string {
  if (segment.includes('/')) throw new ValidationError('a room path segment must not contain "/"');
  let uri: string;
  try {
    uri = decodeURIComponent(segment);
  } catch (e) {
    throw new ValidationError('bad percent-encoding in the path', { cause: e });
  }
  if (!parseMimiUri(uri)) throw new ValidationError(`the path does not hold a MIMI URI: ${JSON.stringify(uri)}`);
  return uri;
}

/**
 * Check an Express-decoded route parameter: a MIMI URI of the given kind (`r` room, `u` user).
 * @throws ValidationError (400 MIMI_BAD_VALUE) otherwise.
 */
export function parseMimiPathParam(param: string, kind: 'r'): RoomUri;
export function parseMimiPathParam(param: string, kind: 'u'): UserUri;
export function parseMimiPathParam(param: string, kind: 'r' | 'u'): RoomUri | UserUri {
  const parsed = parseMimiUri(param);
  if (!parsed || parsed.kind !== kind) {
    const what = kind === 'r' ? 'room' : 'user';
    throw new ValidationError(`the path must hold a MIMI ${what} URI (mimi://<domain>/${kind}/...)`);
  }
  return param as RoomUri | UserUri;
}

/** `@Param('roomId', ParseRoomUriPipe) roomUri: RoomUri` */
export class ParseRoomUriPipe implements PipeTransform<string, RoomUri> {
  transform(value: string): RoomUri {
    return parseMimiPathParam(value, 'r');
  }
}

/**
 * The path segment of `endpoint` for `pathValue`: a provider domain as it is (identifierQuery, §5.8
 * `/identifierQuery/{domain}`; requestConsent, updateConsent: protocol-06 §5.7 `/requestConsent/{targetDomain}`), else the MIMI URI through
 * roomPathSegment.
 * @throws ValidationError when the value is not of the endpoint's kind.
 */
export function endpointPathSegment(endpoint: MimiEndpoint, pathValue: string): string {
  const variable = ENDPOINT_TEMPLATE_VARIABLE[endpoint];
  if (variable === 'downloadUrl') return downloadUrlSegment(pathValue);
  if (!(DOMAIN_VARIABLES as readonly string[]).includes(variable)) return roomPathSegment(pathValue);
  if (!isProviderDomain(pathValue)) throw new ValidationError(`not a provider domain: ${JSON.stringify(pathValue)}`);
  return pathValue.toLowerCase();
}

/**
 * protocol-06 §5.10.2 `GET /proxyDownload/{downloadUrl}`: the asset's https URL, percent-encoded
 * whole into one path segment (like room URIs).
 * @throws ValidationError when `url` is not an absolute https URL without credentials.
 */
function downloadUrlSegment(url: string): string {
  parseDownloadUrl(url);
  return encodeURIComponent(url);
}

/**
 * The URL of a `proxyDownload` request (the Express-decoded route parameter).
 * @throws ValidationError (400) when it is not an absolute https URL, or carries credentials or a fragment.
 */
function parseDownloadUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ValidationError('the path must hold an absolute https URL');
  }
  if (url.protocol !== 'https:') throw new ValidationError('proxyDownload takes https URLs only');
  if (url.username !== '' || url.password !== '' || url.hash !== '') {
    throw new ValidationError('a download URL must not carry credentials or a fragment');
  }
  return url;
}

/** `@Param('downloadUrl', ParseDownloadUrlPipe) url: URL` (proxyDownload). */
export class ParseDownloadUrlPipe implements PipeTransform<string, URL> {
  transform(value: string): URL {
    return parseDownloadUrl(value);
  }
}

/** `@Param('domain' | 'targetDomain', ParseDomainPipe) domain: ProviderDomain` (identifierQuery, requestConsent, updateConsent). */
export class ParseDomainPipe implements PipeTransform<string, ProviderDomain> {
  transform(value: string): ProviderDomain {
    if (!isProviderDomain(value)) throw new ValidationError('the path must hold a provider domain name');
    return value.toLowerCase() as ProviderDomain;
  }
}

/** `@Param('targetUser', ParseUserUriPipe) targetUser: UserUri` (keyMaterial). */
export class ParseUserUriPipe implements PipeTransform<string, UserUri> {
  transform(value: string): UserUri {
    return parseMimiPathParam(value, 'u');
  }
}
