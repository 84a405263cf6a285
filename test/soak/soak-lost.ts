/**
 * What the soak prints about a post a view lost, so a loss can be placed without keeping the run:
 * how each gateway of its room stored it (seq, message ID, kind, the platform event ID it recorded
 * for it); for a Matrix view what Synapse answers for that event ID (present, redacted, unknown)
 * and every event of the room whose content mentions the tag (an edit, a reply); for an XMPP view
 * every archived stanza that mentions it (a correction).
 */
import type { ClientEvent, MatrixUserClient } from '../servers/synapse/synapse-server';
import type { StoredRoomEvent } from '../support/e2e-clients';
import type { Seat, SoakRoom } from './soak-rooms';
import type { SoakWorld } from './soak-world';

const MAX = 400;
const cut = (s: string): string => (s.length > MAX ? `${s.slice(0, MAX)}…` : s);
const err = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Lines describing the lost `tag` of `view` (`R2@matrix`…) in `room`. */
export async function describeLost(w: SoakWorld, room: SoakRoom, view: string, tag: string): Promise<string[]> {
  const lines: string[] = [];
  const platformIds: string[] = [];
  for (const g of room.gateways) {
    let events: StoredRoomEvent[];
    try {
      events = await w.gateways[g].provisioning.events(room.roomUri);
    } catch (e) {
      lines.push(`    ${g}: history not readable: ${err(e)}`);
      continue;
    }
    const found = events.filter((e) => JSON.stringify(e.content ?? {}).includes(tag));
    if (found.length === 0) lines.push(`    ${g}: not stored`);
    for (const e of found) {
      if (g === 'a.example' && e.platformEventId) platformIds.push(e.platformEventId);
      lines.push(
        cut(
          `    ${g}: seq ${e.seq} kind ${e.kind} message ${e.messageId} sender ${e.senderUri} platform event ${e.platformEventId ?? '(none)'} content ${JSON.stringify(e.content)}`,
        ),
      );
    }
  }
  for (const s of room.seats.values()) if (s.kind === 'memory') lines.push(await memoryEntry(w, s.roomId, tag));
  const seat = [...room.seats.values()].find((s) => view.endsWith(`@${s.kind}`));
  if (seat?.kind === 'matrix') {
    for (const id of platformIds) {
      lines.push(cut(`    synapse, ${id}: ${await matrixEvent(seat.client, seat.roomId, id)}`));
    }
    for (const e of await mentioning(seat, tag)) lines.push(cut(`    matrix room holds: ${e}`));
  } else if (seat?.kind === 'xmpp') {
    for (const e of await mentioning(seat, tag)) lines.push(cut(`    muc archive holds: ${e}`));
  }
  return lines;
}

/** Whether C's memory platform has the post in its timeline, and whether the gateway acknowledged it. */
async function memoryEntry(w: SoakWorld, roomId: string, tag: string): Promise<string> {
  try {
    const entry = (await w.c.control.timeline(roomId)).find((t) => JSON.stringify(t.event).includes(`"${tag}"`));
    if (entry === undefined) return `    memory room ${roomId}: not in its timeline`;
    const at = (ms: number) => new Date(ms).toISOString();
    return `    memory room ${roomId}: ${entry.event.platformEventId} entered the timeline at ${at(entry.recordedAt)}, ${
      entry.ackedAt === undefined ? 'NEVER acknowledged by the gateway' : `acknowledged at ${at(entry.ackedAt)}`
    }`;
  } catch (e) {
    return `    memory room ${roomId}: timeline not readable: ${err(e)}`;
  }
}

async function matrixEvent(client: MatrixUserClient, roomId: string, eventId: string): Promise<string> {
  try {
    const ev = await client.request<ClientEvent>(
      'GET',
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(eventId)}`,
    );
    return JSON.stringify(ev);
  } catch (e) {
    return `GET event failed: ${err(e)}`;
  }
}

/** The view's raw items (any type) whose text mentions `tag`. */
async function mentioning(seat: Seat, tag: string): Promise<string[]> {
  try {
    if (seat.kind === 'xmpp') {
      return (await seat.user.archive(seat.muc)).map((m) => m.toString()).filter((s) => s.includes(tag));
    }
    if (seat.kind !== 'matrix') return [];
    const out: string[] = [];
    let from: string | undefined;
    for (;;) {
      const q = `dir=b&limit=500${from ? `&from=${encodeURIComponent(from)}` : ''}`;
      const page = await seat.client.request<{ chunk: ClientEvent[]; end?: string }>(
        'GET',
        `/_matrix/client/v3/rooms/${encodeURIComponent(seat.roomId)}/messages?${q}`,
      );
      for (const e of page.chunk) if (JSON.stringify(e).includes(tag)) out.push(JSON.stringify(e));
      if (!page.end || page.chunk.length === 0) break;
      from = page.end;
    }
    return out;
  } catch (e) {
    return [`not readable: ${err(e)}`];
  }
}
