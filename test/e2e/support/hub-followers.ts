/**
 * A hub and its followers as memory gateway processes (test/support/e2e-gateways.ts), for the
 * outbox and ordering reliability e2e specs (docs/RELIABILITY.md T13, T14, T40): link a legacy
 * room on the hub, invite one user of each follower so that every follower follows it, and read
 * what each side stored and shows.
 */
import type { UserUri } from '../../../src/common/ids';
import { ParticipantRole } from '../../../src/ports';
import { legacyUserUri } from '../../../src/rooms/identity';
import type { NativeUser, StoredRoomEvent } from '../../support/e2e-clients';
import { type GatewayProcess, MEMORY_PLATFORM } from '../../support/e2e-gateways';
import { waitFor, waitForValue } from '../../support/e2e-wait';

const uriOf = (domain: string, user: NativeUser): UserUri => legacyUserUri(domain, MEMORY_PLATFORM, user.userId);

/** The user of `domain`'s platform who represents it in the tests. */
export function userOf(domain: string): NativeUser {
  const name = domain.split('.')[0]!;
  return { userId: `@${name}-user:${domain}`, displayName: `${name} user` };
}

/** Texts of the text messages a gateway stored for a room, in its order. */
export function storedTexts(events: readonly StoredRoomEvent[]): string[] {
  return events.flatMap((e) => (e.kind === 'text' && typeof e.content?.text === 'string' ? [e.content.text] : []));
}

/** The texts of posts shown in a legacy room of `g`'s platform, in its order. */
export async function shownTexts(g: GatewayProcess, roomId: string): Promise<string[]> {
  return (await g.control.timeline(roomId)).flatMap((t) =>
    t.event.kind === 'message' && t.event.action.type === 'post' ? [t.event.action.body.text ?? ''] : [],
  );
}

/**
 * Link legacy room `roomId` (owner `owner`) on `hub`, invite one user of each follower, and wait
 * until every follower follows it with that user and has its mirror room. Returns the room URI.
 */
export async function linkWithFollowers(
  hub: GatewayProcess,
  followers: readonly GatewayProcess[],
  roomId: string,
  owner: NativeUser,
): Promise<string> {
  await hub.control.createRoom(roomId, { name: roomId, members: [{ ...owner, role: ParticipantRole.Owner }] });
  const roomUri = await hub.provisioning.linkRoom(MEMORY_PLATFORM, roomId);
  for (const f of followers) {
    await hub.control.membership(roomId, { userUri: uriOf(f.domain, userOf(f.domain)) }, 'invite', { by: owner });
  }
  for (const f of followers) {
    const user = uriOf(f.domain, userOf(f.domain));
    await waitForValue(
      () => f.provisioning.room(roomUri),
      (r) => r !== undefined && r.participants.some((p) => p.userUri === user),
      { what: `${f.domain} following ${roomUri}`, timeoutMs: 60_000 },
    );
    await mirrorOf(f, roomUri);
  }
  return roomUri;
}

/** The mirror room of `roomUri` on follower `g`. */
export async function mirrorOf(g: GatewayProcess, roomUri: string): Promise<string> {
  const room = await waitFor(async () => (await g.control.rooms()).find((r) => r.roomId === `mirror:${roomUri}`), {
    what: `the mirror room of ${roomUri} on ${g.domain}`,
    timeoutMs: 60_000,
  });
  return room.roomId;
}

/** How many times each element of `texts` occurs in `seen`, for those that do not occur exactly once. */
export function notExactlyOnce(seen: readonly string[], texts: readonly string[]): Record<string, number> {
  const counts = new Map<string, number>();
  for (const s of seen) counts.set(s, (counts.get(s) ?? 0) + 1);
  return Object.fromEntries(texts.filter((t) => counts.get(t) !== 1).map((t) => [t, counts.get(t) ?? 0]));
}
