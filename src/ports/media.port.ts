import type { PlatformBridge } from './platform-bridge.port';
import type { LegacyRoomRef, RemoteUser } from './vocabulary';

/** The bytes of one attachment, with what the platform says about them. */
export interface MediaBytes {
  readonly bytes: Uint8Array;
  /** The media type the platform served (or was given) for them. */
  readonly contentType: string;
}

/** A file to put into the platform's own media store. */
export interface MediaUpload extends MediaBytes {
  /** The name to store it under (shown to users). */
  readonly filename: string;
}

/**
 * Attachments both ways (docs/EXTENSIONS.md "Attachments through the hub"): a bridge that can read
 * the bytes of media its platform holds and put bytes into that store. The core mints an asset ID
 * for each attachment a bridge reports and serves the bytes to peers on its MIMI listener; a
 * receiving gateway fetches them and uploads them here. Without it attachments arrive as a text
 * fallback naming the file.
 */
export interface MediaTransfer {
  /**
   * Whether `url` (an attachment URL this bridge reported) is in the platform's own media store,
   * so that `downloadMedia` can read it. Other URLs are passed on as plain links.
   */
  holdsMedia(url: string): boolean;

  /**
   * The bytes behind `url`, an attachment URL this bridge reported in an inbound event. Only URLs
   * of the platform's own media store are fetched (the Matrix homeserver's media repository, the
   * XMPP server's upload service); anything else is refused, so no arbitrary URL is ever fetched.
   * @throws PlatformError PlatformRejected (not retryable) for a foreign URL or a file over `maxBytes`;
   *         PlatformUnavailable / Timeout when the store cannot be reached
   */
  downloadMedia(url: string, maxBytes: number): Promise<MediaBytes>;

  /**
   * Store `file` in the platform's media store as `as` (the Matrix ghost, the XMPP puppet) and
   * return the URL to put in the attachment that `post` then sends (the bridge posts it as media:
   * an m.image/m.file with its mxc, an XEP-0066 OOB link).
   * @throws PlatformError PlatformRejected when the store refuses it (too large, type not allowed)
   */
  uploadMedia(room: LegacyRoomRef, as: RemoteUser, file: MediaUpload): Promise<string>;
}

export function hasMediaTransfer(bridge: PlatformBridge): bridge is PlatformBridge & MediaTransfer {
  const b = bridge as unknown as Record<string, unknown>;
  return ['holdsMedia', 'downloadMedia', 'uploadMedia'].every((m) => typeof b[m] === 'function');
}
