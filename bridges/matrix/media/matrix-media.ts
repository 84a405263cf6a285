/**
 * The homeserver's media repository, for attachments both ways (src/ports/media.port.ts):
 *
 * - download: the bytes of an attachment the bridge reported, i.e. an authenticated-media
 *   download URL of THIS homeserver (client-server API v1.11 `GET /_matrix/client/v1/media/
 *   download/{serverName}/{mediaId}`), read with the appservice token. Any other URL is refused:
 *   the bridge never fetches arbitrary URLs.
 * - upload: `POST /_matrix/media/v3/upload` as a ghost (appservice `user_id` assertion), giving
 *   the mxc URI the bridge then posts as m.image / m.file (as its download URL, which the event
 *   mapper turns back into the mxc).
 */
import { ErrorCode, PlatformError } from '../../../src/common/errors';
import type { MediaBytes, MediaUpload } from '../../../src/ports';
import { mediaDownloadUrl, mxcOfDownloadUrl } from '../matrix-ids';

export interface MatrixMediaOptions {
  readonly homeserverUrl: string;
  readonly asToken: string;
  /** The fetch to use (tests pass a fake). */
  readonly fetch?: typeof fetch;
}

function tooLarge(maxBytes: number): PlatformError {
  return new PlatformError(ErrorCode.PayloadTooLarge, `larger than the limit of ${maxBytes} bytes`, {
    retryable: false,
  });
}

export class MatrixMedia {
  private readonly fetch: typeof fetch;
  private readonly homeserverUrl: string;

  constructor(private readonly opts: MatrixMediaOptions) {
    this.fetch = opts.fetch ?? fetch;
    this.homeserverUrl = opts.homeserverUrl.replace(/\/+$/, '');
  }

  /**
   * @throws PlatformError PlatformRejected for a URL that is not this homeserver's media,
   *         PayloadTooLarge over `maxBytes`; a plain error with `statusCode` for a homeserver error
   */
  async download(url: string, maxBytes: number): Promise<MediaBytes> {
    if (mxcOfDownloadUrl(this.homeserverUrl, url) === undefined) {
      throw new PlatformError(ErrorCode.PlatformRejected, 'not a media URL of this homeserver', { retryable: false });
    }
    const res = await this.fetch(url, {
      headers: { authorization: `Bearer ${this.opts.asToken}` },
      redirect: 'error',
    });
    if (!res.ok) throw Object.assign(new Error(`media download answered ${res.status}`), { statusCode: res.status });
    if (Number(res.headers.get('content-length') ?? '0') > maxBytes) {
      await res.body?.cancel();
      throw tooLarge(maxBytes);
    }
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (bytes.length > maxBytes) throw tooLarge(maxBytes);
    return { bytes, contentType: res.headers.get('content-type') ?? 'application/octet-stream' };
  }

  /**
   * Upload `file` as the ghost `userId` (already registered); returns its download URL.
   * @throws a plain error with `statusCode` (and the homeserver's errcode) when refused
   */
  async upload(userId: string, file: MediaUpload): Promise<string> {
    const query = new URLSearchParams({ filename: file.filename, user_id: userId });
    const res = await this.fetch(`${this.homeserverUrl}/_matrix/media/v3/upload?${query.toString()}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.opts.asToken}`, 'content-type': file.contentType },
      body: file.bytes,
      redirect: 'error',
    });
    const json = (await res.json().catch(() => ({}))) as { content_uri?: unknown; errcode?: unknown; error?: unknown };
    if (!res.ok) {
      const why = typeof json.error === 'string' ? `: ${json.error}` : '';
      throw Object.assign(new Error(`media upload answered ${res.status}${why}`), {
        statusCode: res.status,
        body: json,
      });
    }
    const url =
      typeof json.content_uri === 'string' ? mediaDownloadUrl(this.homeserverUrl, json.content_uri) : undefined;
    if (url === undefined) throw new Error('media upload gave no usable content_uri');
    return url;
  }
}
