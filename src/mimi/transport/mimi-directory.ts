/**
 * The MIMI directory (protocol-06 §5.1): a JSON object mapping endpoint names to HTTPS URL
 * templates, served at `GET /.well-known/mimi-protocol-directory`, modelled on ACME.
 *
 * The draft's example is not valid JSON ("proxyDownload" lacks its colon) and writes `update{roomId}`
 * without a slash (MIMI-NOTES §1.4, Draft issue). We serve valid JSON listing only the endpoints we
 * actually serve, each as `<base>/<endpoint>/{roomId}` (`{targetUser}` for keyMaterial).
 */
import { CodecError } from '../../common/errors';
import { GatewayConfig } from '../../config/gateway-config';
import type { MimiEndpoint } from '../../ports/delivery-target.port';
import { ENDPOINT_TEMPLATE_VARIABLE, SERVED_ENDPOINTS, endpointPathSegment } from './mimi-paths';

/** Endpoint name → URL template. A peer's directory may lack endpoints it does not serve. */
export type MimiDirectory = Partial<Record<MimiEndpoint, string>>;

const DEFAULT_HTTPS_PORT = 443;

/** Our base URL: `provider.publicBaseUrl`, else `https://<domain>:<port>` (`boundPort` when listen.port is 0). */
export function directoryBaseUrl(config: GatewayConfig, boundPort?: number): string {
  if (config.provider.publicBaseUrl) return config.provider.publicBaseUrl.replace(/\/+$/, '');
  const port = config.listen.port === 0 && boundPort !== undefined ? boundPort : config.listen.port;
  return port === DEFAULT_HTTPS_PORT
    ? `https://${config.provider.domain}`
    : `https://${config.provider.domain}:${port}`;
}

/** Our directory document for `baseUrl`. */
export function buildDirectory(baseUrl: string): MimiDirectory {
  const base = baseUrl.replace(/\/+$/, '');
  const directory: MimiDirectory = {};
  for (const endpoint of SERVED_ENDPOINTS) {
    directory[endpoint] = `${base}/${endpoint}/{${ENDPOINT_TEMPLATE_VARIABLE[endpoint]}}`;
  }
  return directory;
}

/**
 * Read a peer's directory document: keeps the endpoints we know whose value is an absolute https
 * URL template containing the endpoint's variable; ignores everything else (endpoints we do not
 * use, future additions).
 * @throws CodecError when the document is not a JSON object or names none of our endpoints usably.
 */
export function parseDirectory(document: unknown): MimiDirectory {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new CodecError('a MIMI directory must be a JSON object');
  }
  const source = document as Record<string, unknown>;
  const directory: MimiDirectory = {};
  for (const endpoint of SERVED_ENDPOINTS) {
    const template = source[endpoint];
    if (typeof template !== 'string') continue;
    const variable = `{${ENDPOINT_TEMPLATE_VARIABLE[endpoint]}}`;
    if (!template.includes(variable)) continue;
    if (!isHttpsUrl(template.replace(variable, 'x'))) continue;
    directory[endpoint] = template;
  }
  if (Object.keys(directory).length === 0) {
    throw new CodecError(`the MIMI directory lists none of ${SERVED_ENDPOINTS.join(', ')} as an https URL template`);
  }
  return directory;
}

/**
 * The absolute URL of `endpoint` for `uri` (a room URI, or the target user URI for keyMaterial),
 * from a URL template of a directory.
 * @throws ValidationError when `uri` is not a MIMI URI; CodecError when the result is not https.
 */
export function expandTemplate(template: string, endpoint: MimiEndpoint, uri: string): URL {
  const variable = `{${ENDPOINT_TEMPLATE_VARIABLE[endpoint]}}`;
  const expanded = template.split(variable).join(endpointPathSegment(endpoint, uri));
  if (!isHttpsUrl(expanded)) throw new CodecError(`not an https URL: ${expanded}`);
  return new URL(expanded);
}

function isHttpsUrl(s: string): boolean {
  try {
    return new URL(s).protocol === 'https:';
  } catch {
    return false;
  }
}
