/**
 * The soak's rooms, one hubbed on each side, and how to read each room back from every legacy
 * client and every gateway's stored history:
 *
 * - R1: a Matrix room alice links on A (hub A); bob's and carol's ghosts are invited (B mirrors it
 *   into a MUC bob joins, C into a memory room);
 * - R2: a MUC bob creates and links on B (hub B); alice's and carol's puppets are invited (A
 *   mirrors it, alice joins through the portal alias; C mirrors it);
 * - R3: a memory room carol links on C (hub C); alice joins through A's portal alias.
 */
import { NS } from '../../bridges/xmpp/protocol/namespaces';
import { Platform } from '../../src/common/ids';
import { legacyUserUri } from '../../src/rooms/identity';
import { BOT_JID, invitePuppet, mucJid } from '../e2e/support/xmpp-mimi-env';
import type { ClientEvent, MatrixUserClient } from '../servers/synapse/synapse-server';
import type { XmppTestUser } from '../servers/prosody/xmpp-test-user';
import { waitForValue } from '../support/e2e-wait';
import { linkMatrixRoom } from '../e2e/support/matrix-gateway';
import { parseTag } from './soak-ledger';
import { A, B, C, type GatewayName, type SoakWorld } from './soak-world';

const CAROL = { userId: 'carol', displayName: 'Carol' };
/** R3's room on C's memory platform. */
export const R3_ON_C = '!soak-r3';
const WAIT_MS = 120_000;

/** Where a sender posts in a room. */
export type Seat =
  | { readonly kind: 'matrix'; readonly client: MatrixUserClient; readonly roomId: string }
  | { readonly kind: 'xmpp'; readonly user: XmppTestUser; readonly muc: string }
  | { readonly kind: 'memory'; readonly roomId: string };

export interface SoakRoom {
  readonly name: string;
  readonly roomUri: string;
  /** The gateways in the room (their stored histories must match). */
  readonly gateways: readonly GatewayName[];
  /** sender name → where they post (also the legacy views: one per platform). */
  readonly seats: ReadonlyMap<string, Seat>;
}

export async function createRooms(w: SoakWorld): Promise<SoakRoom[]> {
  const alice = w.alice;
  const bob = w.bob;
  const aliceUri = legacyUserUri(A, Platform.Matrix, alice.userId);
  const bobUri = legacyUserUri(B, Platform.Xmpp, bob.jid);
  const carolUri = legacyUserUri(C, Platform.Memory, CAROL.userId);
  const following = (g: GatewayName, roomUri: string, user: string) =>
    waitForValue(
      () => w.gateways[g].provisioning.room(roomUri),
      (r) => r !== undefined && r.participants.some((p) => p.userUri === user),
      { timeoutMs: WAIT_MS, what: `${g} following ${roomUri} with ${user}` },
    );

  // R1: hubbed by A.
  const r1 = await linkMatrixRoom(alice, 'soak R1');
  await alice.invite(r1.roomId, w.ids.ghostUserId(bobUri)!);
  const r1Muc = (await following(B, r1.roomUri, bobUri))!.roomId;
  await bob.join(r1Muc, 'bob');
  await alice.invite(r1.roomId, w.ids.ghostUserId(carolUri)!);
  const r1OnC = (await following(C, r1.roomUri, carolUri))!.roomId;

  // R2: hubbed by B.
  const r2Muc = mucJid('soak-r2');
  await bob.createRoom(r2Muc, 'bob');
  await bob.setAffiliation(r2Muc, BOT_JID, 'owner');
  const r2Uri = await w.gateways[B].provisioning.linkRoom(Platform.Xmpp, r2Muc);
  await invitePuppet(bob, r2Muc, aliceUri);
  const r2Mirror = (await following(A, r2Uri, aliceUri))!.roomId;
  await alice.join(w.portalAlias(r2Uri));
  await invitePuppet(bob, r2Muc, carolUri);
  const r2OnC = (await following(C, r2Uri, carolUri))!.roomId;

  // R3: hubbed by C.
  await w.c.control.createRoom(R3_ON_C, { name: 'soak R3', joinRule: 'public', members: [CAROL] });
  const r3Uri = await w.gateways[C].provisioning.linkRoom(Platform.Memory, R3_ON_C);
  const r3Mirror = await alice.join(w.portalAlias(r3Uri));

  return [
    {
      name: 'R1',
      roomUri: r1.roomUri,
      gateways: [A, B, C],
      seats: new Map<string, Seat>([
        ['alice', { kind: 'matrix', client: alice, roomId: r1.roomId }],
        ['bob', { kind: 'xmpp', user: bob, muc: r1Muc }],
        ['carol', { kind: 'memory', roomId: r1OnC }],
      ]),
    },
    {
      name: 'R2',
      roomUri: r2Uri,
      gateways: [B, A, C],
      seats: new Map<string, Seat>([
        ['alice', { kind: 'matrix', client: alice, roomId: r2Mirror }],
        ['bob', { kind: 'xmpp', user: bob, muc: r2Muc }],
        ['carol', { kind: 'memory', roomId: r2OnC }],
      ]),
    },
    {
      name: 'R3',
      roomUri: r3Uri,
      gateways: [C, A],
      seats: new Map<string, Seat>([
        ['alice', { kind: 'matrix', client: alice, roomId: r3Mirror }],
        ['carol', { kind: 'memory', roomId: R3_ON_C }],
      ]),
    },
  ];
}

/** The post tags a Matrix room shows, oldest first (edits are m.replace events: not posts). */
async function matrixTags(client: MatrixUserClient, roomId: string): Promise<string[]> {
  const events: ClientEvent[] = [];
  let from: string | undefined;
  for (;;) {
    const q = `dir=b&limit=500${from ? `&from=${encodeURIComponent(from)}` : ''}`;
    const page = await client.request<{ chunk: ClientEvent[]; end?: string }>(
      'GET',
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?${q}`,
    );
    events.push(...page.chunk);
    if (!page.end || page.chunk.length === 0) break;
    from = page.end;
  }
  return events
    .reverse()
    .filter((e) => e.type === 'm.room.message' && e.content['m.relates_to'] === undefined)
    .map((e) => String(e.content['body'] ?? ''))
    .filter((body) => parseTag(body) !== undefined);
}

/** The post tags a MUC's archive holds, oldest first (corrections carry <replace>: not posts). */
async function xmppTags(user: XmppTestUser, muc: string): Promise<string[]> {
  return (await user.archive(muc))
    .filter((m) => m.getChild('replace', NS.CORRECT) === undefined)
    .map((m) => m.getChildText('body') ?? '')
    .filter((body) => parseTag(body) !== undefined);
}

/** The post tags of a memory room's timeline, in order. */
async function memoryTags(w: SoakWorld, roomId: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await w.c.control.timeline(roomId)) {
    const e = entry.event;
    if (e.kind === 'message' && e.action.type === 'post' && e.action.body.kind === 'text') {
      if (parseTag(e.action.body.text) !== undefined) out.push(e.action.body.text.trim());
    }
  }
  return out;
}

/** Every legacy view of `room`: view name → its post tags in order. A view that cannot be read now is left out. */
export async function readViews(w: SoakWorld, room: SoakRoom): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  await Promise.all(
    [...room.seats].map(async ([, seat]) => {
      try {
        if (seat.kind === 'matrix') out.set(`${room.name}@matrix`, await matrixTags(seat.client, seat.roomId));
        else if (seat.kind === 'xmpp') out.set(`${room.name}@xmpp`, await xmppTags(seat.user, seat.muc));
        else out.set(`${room.name}@memory`, await memoryTags(w, seat.roomId));
      } catch {
        // the platform or gateway is down right now
      }
    }),
  );
  return out;
}

/** Each gateway's stored history of `room`: gateway → post tags in stored order. */
export async function readHistories(w: SoakWorld, room: SoakRoom): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const g of room.gateways) {
    const events = await w.gateways[g].provisioning.events(room.roomUri);
    out[g] = events
      .map((e) => /soak \S+ \S+ \d+/.exec(JSON.stringify(e.content ?? {}))?.[0])
      .filter((t): t is string => t !== undefined && parseTag(t) !== undefined);
  }
  return out;
}
