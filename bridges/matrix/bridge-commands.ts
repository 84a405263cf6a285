import type { Logger } from '@nestjs/common';
import type { Intent, MembershipCache } from 'matrix-appservice-bridge';
import { GatewayError, errorMessage } from '../../src/common/errors';
import { Platform } from '../../src/common/ids';
import type { BridgeHost, LegacyRoomRef, LegacyUserRef, LinkStatus } from '../../src/ports';
import { type CommandName, type MatrixEvent, powerLevelOf, roomRef } from './matrix-event.mapper';
import { txnIdFor } from './matrix-errors';
import { encryptedRoomRefusal } from './room-lifecycle';
import type { RoomStateReader } from './room-state-reader';

const HELP_TEXT =
  'MIMI bridge commands (room admins): `!mimi link` bridges this room to MIMI, `!mimi unlink` stops, ' +
  '`!mimi status` shows the link, `!mimi invite <address>` invites a user of another MIMI provider ' +
  '(`xmpp:bob@example.org`, `@carol:other.example`).';

const INVITE_USAGE =
  'Usage: `!mimi invite <address>`, e.g. `!mimi invite xmpp:bob@example.org` or `!mimi invite @carol:other.example`.';

/** `!mimi invite <address>`: the core resolves the address through the provider's /identifierQuery and adds the user. */
async function inviteByAddress(
  host: BridgeHost,
  room: LegacyRoomRef,
  address: string | undefined,
  requestedBy: LegacyUserRef,
): Promise<string> {
  if (address === undefined) return INVITE_USAGE;
  if (host.invite === undefined) return 'Invites by address are not available on this gateway.';
  const userUri = await host.invite(room, address, requestedBy);
  return `Invited ${address} (${userUri}): they are a participant of the MIMI room and get an invitation on their side.`;
}

export interface BridgeCommandsDeps {
  /** The bot's intent (throws while the bridge is not started). */
  readonly bot: () => Intent;
  /** The core's linking host, when this gateway offers linking. */
  readonly host: () => BridgeHost | undefined;
  readonly membership: MembershipCache;
  readonly roomState: RoomStateReader;
  /** The power level `!mimi link|unlink|status` needs. */
  readonly linkPowerLevel: number;
  readonly logger: Logger;
}

/** The in-room `!mimi` commands and the bot's m.notice replies. */
export class BridgeCommands {
  constructor(private readonly deps: BridgeCommandsDeps) {}

  async run(ev: MatrixEvent, command: CommandName, unknown?: string, argument?: string): Promise<void> {
    const { membership, roomState, linkPowerLevel, logger } = this.deps;
    const room = roomRef(ev.room_id);
    const requestedBy: LegacyUserRef = {
      platform: Platform.Matrix,
      userId: ev.sender,
      ...(membership.getMemberProfile(ev.room_id, ev.sender)?.displayname
        ? { displayName: membership.getMemberProfile(ev.room_id, ev.sender).displayname }
        : {}),
    };
    let reply: string;
    try {
      if (command === 'help') {
        reply = unknown !== undefined ? `Unknown command. ${HELP_TEXT}` : HELP_TEXT;
      } else {
        const level = powerLevelOf(
          await roomState.roomPowerLevels(ev.room_id),
          ev.sender,
          await roomState.roomCreators(ev.room_id),
        );
        const host = this.deps.host();
        if (level < linkPowerLevel) {
          reply = `Only users with power level ${linkPowerLevel} or more can use !mimi ${command} (you have ${level}).`;
        } else if (!host) {
          reply = 'Linking is not available on this gateway.';
        } else if (command === 'link') {
          reply =
            (await encryptedRoomRefusal(this.deps.bot().matrixClient, ev.room_id)) ??
            `Linked. ${describeStatus(await host.link(room, requestedBy))}`;
        } else if (command === 'invite') {
          reply = await inviteByAddress(host, room, argument, requestedBy);
        } else if (command === 'unlink') {
          await host.unlink(room, requestedBy);
          reply = 'Unlinked: this room is no longer bridged to MIMI.';
        } else {
          const s = await host.status(room);
          reply = s ? describeStatus(s) : 'This room is not bridged to MIMI.';
        }
      }
    } catch (e) {
      const human = e instanceof GatewayError ? (e.humanMessage ?? e.message) : 'internal error';
      logger.warn(`room ${ev.room_id} event ${ev.event_id}: !mimi ${command} failed: ${errorMessage(e)}`);
      reply = `!mimi ${command} failed: ${human}`;
    }
    // A replayed transaction re-runs the (idempotent) command; the same txn ID keeps one answer.
    await this.sendNotice(ev.room_id, ev.event_id, reply, txnIdFor('cmd', ev.event_id)).catch((e: unknown) => {
      logger.warn(`room ${ev.room_id}: could not answer !mimi ${command}: ${errorMessage(e)}`);
    });
  }

  /** The bot answers `replyTo` (if any) with an m.notice; the txn ID makes a retry land once. */
  async sendNotice(roomId: string, replyTo: string | undefined, text: string, txnId: string): Promise<string> {
    const content = {
      msgtype: 'm.notice',
      body: text,
      'm.mentions': {},
      ...(replyTo !== undefined ? { 'm.relates_to': { 'm.in_reply_to': { event_id: replyTo } } } : {}),
    };
    const res = (await this.deps
      .bot()
      .matrixClient.doRequest(
        'PUT',
        `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${encodeURIComponent(txnId)}`,
        null,
        content,
      )) as { event_id: string };
    return res.event_id;
  }
}

function describeStatus(s: LinkStatus): string {
  const followers = s.followers.length
    ? ` Followers: ${s.followers.map((f) => `${f.domain}${f.pending ? ` (${f.pending} waiting)` : ''}`).join(', ')}.`
    : ' No followers yet.';
  return `MIMI room ${s.roomUri} (${s.role}, hub ${s.hub}), ${s.participants} participants.${followers}`;
}
