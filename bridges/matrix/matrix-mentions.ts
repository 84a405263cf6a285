/**
 * Mentions between Matrix and MIMI: the resolver both directions use, and matrix.to pills
 * (client-server API "User, room, and group mentions").
 */

/** Maps mentions between the two sides. Both directions may answer `undefined` (not a known user). */
export interface MentionResolver {
  /** The MIMI user URI to link for a Matrix user (a ghost's own URI, or a native user's URI). */
  userUriOf(mxid: string): string | undefined;
  /** The Matrix user ID to pill for a MIMI user URI. */
  mxidOf(userUri: string): string | undefined;
}

export const NO_MENTIONS: MentionResolver = { userUriOf: () => undefined, mxidOf: () => undefined };

const MATRIX_TO_USER = /^https:\/\/matrix\.to\/#\/((?:@|%40)[^/?#]+)/i;
const MXID_RE = /^@[^:\s]+:[A-Za-z0-9.[\]:-]+$/;

/** The Matrix user a matrix.to link points at, or undefined. */
export function mxidOfMatrixTo(href: string): string | undefined {
  const m = MATRIX_TO_USER.exec(href);
  if (!m) return undefined;
  let id: string;
  try {
    id = decodeURIComponent(m[1]!);
  } catch {
    return undefined;
  }
  return MXID_RE.test(id) ? id : undefined;
}

export function matrixToLink(mxid: string): string {
  return `https://matrix.to/#/${encodeURIComponent(mxid).replace(/%3A/g, ':').replace(/^%40/, '@')}`;
}
