/** XEP-0359 origin-ids of the bridge's posts: derived from the core's idempotency key. */
import { createHash } from 'node:crypto';

/** The origin-id (and stanza id) of a post: stable across retries of the same idempotency key. */
export function originIdFor(idempotencyKey: string): string {
  return `mimi-${createHash('sha256').update(idempotencyKey).digest('base64url').slice(0, 22)}`;
}

/** Origin-ids of posts (not of the bot's notices) have this shape (originIdFor). */
export function isPostOriginId(originId: string): boolean {
  return /^mimi-[A-Za-z0-9_-]{22}$/.test(originId);
}
