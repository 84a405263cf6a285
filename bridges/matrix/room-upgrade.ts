/**
 * Room upgrades followed (issue 13 §8): an `m.room.tombstone` in a linked room names the room that
 * replaces it. The bot joins the replacement and the core moves the link there (`BridgeHost.moveLink`:
 * same MIMI room, same participants), so that what is said in the new room crosses and what
 * crosses is posted there; both rooms are told.
 *
 * The replacement of an invite-only room cannot be joined without an invite (a room upgrade
 * carries no invites over): the old room is then told to invite the bot, and when the bot is
 * invited to a room whose `m.room.create` names the linked room as its predecessor, and that
 * room's tombstone names it as replacement, the link follows then (`followInvite`).
 */
import type { Intent } from 'matrix-appservice-bridge';
import { errorMessage } from '../../src/common/errors';
import { Platform } from '../../src/common/ids';
import type { BridgeHost } from '../../src/ports';
import { type MatrixEvent, roomRef } from './matrix-event.mapper';
import { txnIdFor } from './matrix-errors';

export interface RoomUpgradeDeps {
  readonly bot: () => Intent;
  readonly host: () => BridgeHost | undefined;
  /** The bot's m.notice in `roomId`, replying to `replyTo`. */
  readonly notice: (roomId: string, replyTo: string | undefined, text: string, txnId: string) => Promise<unknown>;
  readonly logger: { log(m: string): void; warn(m: string): void };
}

/** The replacement room a tombstone names, or undefined when `ev` is no (usable) tombstone. */
export function tombstoneReplacement(ev: Pick<MatrixEvent, 'type' | 'state_key' | 'content'>): string | undefined {
  if (ev.type !== 'm.room.tombstone' || ev.state_key !== '') return undefined;
  const replacement = ev.content['replacement_room'];
  return typeof replacement === 'string' && replacement.startsWith('!') ? replacement : undefined;
}

/** The server part of a user ID (where the replacement room can be joined through). */
function serverOf(mxid: string): string | undefined {
  const colon = mxid.indexOf(':');
  return colon > 0 ? mxid.slice(colon + 1) : undefined;
}

/** Rooms remembered as replaced (bounded: the oldest is forgotten first). */
const MAX_REPLACED = 10_000;

export class RoomUpgrades {
  private readonly replaced = new Set<string>();

  constructor(private readonly deps: RoomUpgradeDeps) {}

  /**
   * Whether `roomId` was replaced by an upgrade (seen here since start). The homeserver then
   * restricts the old room's power levels (nobody may speak there any more): that is the end of
   * the old room, not a change of the MIMI room's roles, and the bridge does not carry it over.
   */
  isReplaced(roomId: string): boolean {
    return this.replaced.has(roomId);
  }

  /** A tombstone: when its room is linked, follow it (or say how to). Never throws. */
  async onTombstone(ev: MatrixEvent): Promise<void> {
    const replacement = tombstoneReplacement(ev);
    const host = this.deps.host();
    if (replacement === undefined) return;
    if (!(await this.isRoomTombstone(ev.room_id, replacement))) {
      this.deps.logger.warn(
        `room ${ev.room_id}: ignoring tombstone ${ev.event_id} from ${ev.sender}: the room's state names no such replacement`,
      );
      return;
    }
    this.replaced.add(ev.room_id);
    if (this.replaced.size > MAX_REPLACED) this.replaced.delete(this.replaced.values().next().value as string);
    if (host?.moveLink === undefined) return;
    if (!(await host.status(roomRef(ev.room_id)))) return;
    const via = serverOf(ev.sender);
    try {
      await this.deps.bot().matrixClient.joinRoom(replacement, via ? [via] : undefined);
    } catch (e) {
      this.deps.logger.warn(`room ${ev.room_id}: cannot join its replacement ${replacement}: ${errorMessage(e)}`);
      await this.tell(
        ev.room_id,
        ev.event_id,
        `This room was upgraded to ${replacement}, which the MIMI bridge bot cannot join (${errorMessage(e)}). ` +
          `Invite ${this.deps.bot().userId} into the new room: the MIMI link then moves there by itself.`,
      );
      return;
    }
    await this.move(ev.room_id, replacement, ev.sender, ev.event_id);
  }

  /**
   * Whether the homeserver holds a tombstone naming `replacement` as `roomId`'s state. A tombstone
   * in a transaction is not enough: only one the homeserver's auth rules let into the room's state
   * (a sender with the power to send it, state_key '') counts; anything else (a forged or rejected
   * event) changes nothing.
   */
  private async isRoomTombstone(roomId: string, replacement: string): Promise<boolean> {
    try {
      const content = (await this.deps.bot().matrixClient.getRoomStateEvent(roomId, 'm.room.tombstone', '')) as Record<
        string,
        unknown
      >;
      return tombstoneReplacement({ type: 'm.room.tombstone', state_key: '', content }) === replacement;
    } catch {
      return false; // M_NOT_FOUND: no tombstone in the room's state
    }
  }

  /**
   * The bot joined `roomId` on an invite: when it replaces a linked room (its create event names
   * the predecessor, whose tombstone names it back), the link follows. Never throws.
   */
  async followInvite(roomId: string, inviter: string): Promise<void> {
    const host = this.deps.host();
    if (host?.moveLink === undefined) return;
    try {
      const client = this.deps.bot().matrixClient;
      const create = (await client.getRoomStateEvent(roomId, 'm.room.create', '')) as Record<string, unknown>;
      const predecessor = (create['predecessor'] as { room_id?: unknown } | undefined)?.room_id;
      if (typeof predecessor !== 'string' || !(await host.status(roomRef(predecessor)))) return;
      const tombstone = (await client.getRoomStateEvent(predecessor, 'm.room.tombstone', '')) as Record<
        string,
        unknown
      >;
      if (tombstoneReplacement({ type: 'm.room.tombstone', state_key: '', content: tombstone }) !== roomId) return;
      await this.move(predecessor, roomId, inviter, undefined);
    } catch (e) {
      this.deps.logger.warn(`room ${roomId}: could not check whether it replaces a linked room: ${errorMessage(e)}`);
    }
  }

  private async move(from: string, to: string, by: string, tombstoneEventId: string | undefined): Promise<void> {
    const host = this.deps.host();
    if (host?.moveLink === undefined) return;
    try {
      const { roomUri, moved } = await host.moveLink(roomRef(from), roomRef(to), {
        platform: Platform.Matrix,
        userId: by,
      });
      if (!moved) return;
      this.deps.logger.log(`room ${from} upgraded to ${to}: ${roomUri} follows`);
      await this.tell(to, undefined, `This room replaces ${from} and continues the MIMI room ${roomUri}.`);
      await this.tell(
        from,
        tombstoneEventId,
        `This room was upgraded to ${to}: the MIMI room ${roomUri} continues there, and nothing sent here crosses any more.`,
      );
    } catch (e) {
      this.deps.logger.warn(`room ${from}: the MIMI link could not move to ${to}: ${errorMessage(e)}`);
      await this.tell(
        from,
        tombstoneEventId,
        `This room was upgraded to ${to}, but the MIMI link could not move: ${errorMessage(e)}`,
      );
    }
  }

  private async tell(roomId: string, replyTo: string | undefined, text: string): Promise<void> {
    await this.deps
      .notice(roomId, replyTo, text, txnIdFor('upgrade', `${roomId}\n${text}`))
      .catch((e: unknown) => this.deps.logger.warn(`room ${roomId}: could not tell the room: ${errorMessage(e)}`));
  }
}
