/**
 * Attachments both ways on XMPP (src/ports/media.port.ts) through the server's XEP-0363 HTTP File
 * Upload service (Prosody's mod_http_file_share; `xmpp.httpUpload` in the config):
 *
 * - upload: a slot request from the puppet (component mode) or the relay account, to the upload
 *   service; PUT of the bytes with the headers the slot names (XEP-0363 §5: Authorization, Cookie,
 *   Expires only); the GET URL is what the message carries (body + XEP-0066 OOB).
 * - download: only URLs under the service's own download prefix (`downloadUrlPrefix`), which the
 *   bridge saw in a room. Nothing else is ever fetched.
 */
import { ErrorCode, PlatformError, errorMessage } from '../../../src/common/errors';
import type { MediaBytes, MediaUpload } from '../../../src/ports';
import { NS } from '../protocol/namespaces';
import { type XmlElement, xml } from '../protocol/xml';

export interface HttpUploadOptions {
  /** JID of the upload service, e.g. upload.xmpp.example. */
  readonly service: string;
  /** Every GET URL of the service starts with this (http: allowed only because it is configured). */
  readonly downloadUrlPrefix: string;
  /** The fetch to use (tests pass a fake). */
  readonly fetch?: typeof fetch;
}

/** Sends an IQ and waits for its answer (the session's IqClient). */
export type IqRequest = (el: XmlElement) => Promise<XmlElement>;

/** XEP-0363 §5: the only headers a client may copy from the slot to its PUT. */
const SLOT_HEADERS: ReadonlySet<string> = new Set(['authorization', 'cookie', 'expires']);

function rejected(message: string, code = ErrorCode.PlatformRejected): PlatformError {
  return new PlatformError(code, message, { retryable: false });
}

export class XmppHttpUpload {
  private readonly fetch: typeof fetch;

  constructor(
    private readonly iq: IqRequest,
    private readonly opts: HttpUploadOptions,
  ) {
    this.fetch = opts.fetch ?? fetch;
  }

  /** Whether `url` is one of the upload service's download URLs (no user info, no `..` tricks). */
  isOwnUrl(url: string): boolean {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return false;
    }
    return !parsed.username && !parsed.password && parsed.href.startsWith(this.opts.downloadUrlPrefix);
  }

  /** @throws PlatformError PlatformRejected for a foreign URL, PayloadTooLarge over `maxBytes` */
  async download(url: string, maxBytes: number): Promise<MediaBytes> {
    if (!this.isOwnUrl(url)) throw rejected('not a download URL of the XMPP upload service');
    const res = await this.call(url, { redirect: 'error' }, 'download');
    if (!res.ok) throw this.httpError('download', res.status);
    if (Number(res.headers.get('content-length') ?? '0') > maxBytes) {
      await res.body?.cancel();
      throw rejected(`larger than the limit of ${maxBytes} bytes`, ErrorCode.PayloadTooLarge);
    }
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (bytes.length > maxBytes) {
      throw rejected(`larger than the limit of ${maxBytes} bytes`, ErrorCode.PayloadTooLarge);
    }
    return { bytes, contentType: res.headers.get('content-type') ?? 'application/octet-stream' };
  }

  /**
   * A slot for `file` requested as `from` (a puppet's full JID; undefined on a client stream), the
   * bytes PUT there; returns the GET URL.
   * @throws PlatformError: the service's refusal (XmppStanzaError: file too large, not allowed), an HTTP failure
   */
  async upload(from: string | undefined, file: MediaUpload): Promise<string> {
    const answer = await this.iq(
      xml(
        'iq',
        { type: 'get', to: this.opts.service, from },
        xml('request', {
          xmlns: NS.HTTP_UPLOAD,
          filename: file.filename,
          size: String(file.bytes.length),
          'content-type': file.contentType,
        }),
      ),
    );
    const slot = parseSlot(answer);
    const headers: Record<string, string> = { 'content-type': file.contentType };
    for (const h of slot.headers) if (SLOT_HEADERS.has(h.name.toLowerCase())) headers[h.name] = h.value;
    const res = await this.call(slot.put, { method: 'PUT', headers, body: file.bytes, redirect: 'error' }, 'upload');
    if (res.status !== 200 && res.status !== 201) throw this.httpError('upload', res.status);
    return slot.get;
  }

  private async call(url: string, init: RequestInit, what: string): Promise<Response> {
    try {
      return await this.fetch(url, init);
    } catch (e) {
      throw new PlatformError(ErrorCode.PlatformUnavailable, `HTTP ${what}: ${errorMessage(e)}`, { cause: e });
    }
  }

  private httpError(what: string, status: number): PlatformError {
    const message = `HTTP ${what} answered ${status}`;
    if (status === 413) return rejected(message, ErrorCode.PayloadTooLarge);
    return status >= 500 ? new PlatformError(ErrorCode.PlatformUnavailable, message) : rejected(message);
  }
}

/** The PUT and GET URLs and PUT headers of an XEP-0363 slot. @throws PlatformError when malformed */
function parseSlot(iq: XmlElement): {
  put: string;
  get: string;
  headers: { name: string; value: string }[];
} {
  const slot = iq.getChild('slot', NS.HTTP_UPLOAD);
  const put = slot?.getChild('put');
  const get = slot?.getChild('get');
  const putUrl = put?.attrs.url as string | undefined;
  const getUrl = get?.attrs.url as string | undefined;
  if (!putUrl || !getUrl || !/^https?:\/\//.test(putUrl) || !/^https?:\/\//.test(getUrl)) {
    throw rejected('the upload service answered without a usable slot');
  }
  const headers = (put?.getChildren('header') ?? []).map((h) => ({
    name: String(h.attrs.name ?? ''),
    value: h.getText(),
  }));
  return { put: putUrl, get: getUrl, headers };
}
