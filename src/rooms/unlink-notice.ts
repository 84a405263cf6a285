/**
 * Issue 10 item 6: how a hub tells its followers that a room was unlinked. The hub's last commit
 * in the room removes every other provider's clients and participants; its `authenticated_data`
 * (RFC 9420 §6.1, signed by the committer, readable by anyone who sees the PublicMessage) carries
 * `mimi-unlinked:` and the reason in UTF-8. A follower that finds it in a commit of its hub says so
 * in its mirror room and stops offering to post there.
 */
const PREFIX = 'mimi-unlinked:';
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** The authenticated_data of the hub's unlink commit. */
export function unlinkAuthenticatedData(reason: string): Uint8Array {
  return utf8.encode(`${PREFIX}${reason}`);
}

/** The reason, when `aad` is an unlink commit's authenticated_data; else undefined. */
export function unlinkReasonOf(aad: Uint8Array | undefined): string | undefined {
  if (aad === undefined) return undefined;
  let text: string;
  try {
    text = utf8Strict.decode(aad);
  } catch {
    return undefined;
  }
  return text.startsWith(PREFIX) ? text.slice(PREFIX.length) : undefined;
}

/** What a follower's mirror room says when its room was unlinked at the hub. */
export function unlinkedNotice(hub: string, reason: string): string {
  return `This room was unlinked at its hub ${hub} (${reason}). Nothing posted here is delivered any more.`;
}
