/**
 * `!mimi invite <address>` typed in a linked MUC by one of its owners or admins: the core
 * resolves the address through the user's provider's `/identifierQuery` and adds them to the
 * MIMI room (BridgeHost.invite). The bot answers the occupant privately (XEP-0045 §7.5) with the
 * result or the provider's reason. Replayed messages (archive, MUC history) never run a command.
 */
import type { Logger } from '@nestjs/common';
import { GatewayError, errorMessage } from '../../../src/common/errors';
import type { BridgeHost, LegacyUserRef } from '../../../src/ports';
import { roomRef } from '../muc/rooms';
import type { RoomRuntime } from '../state/muc-room';

const INVITE_RE = /^!mimi[ \t]+invite(?:[ \t]+(\S+))?[ \t]*$/i;
const USAGE =
  'Usage: !mimi invite <address>, e.g. !mimi invite @carol:matrix.example or !mimi invite xmpp:bob@example.org';
/** The affiliations that may invite (a room's owners and admins). */
const MAY_INVITE: ReadonlySet<string> = new Set(['owner', 'admin']);

/** The command in a groupchat body: `{ address }` (undefined when it is missing), or undefined when it is no invite command. */
export function parseInviteCommand(body: string | undefined): { address: string | undefined } | undefined {
  const m = body === undefined ? null : INVITE_RE.exec(body.trim());
  return m ? { address: m[1] } : undefined;
}

export interface CommandReplies {
  /** The bot's answer to the occupant who sent `platformEventId`. */
  notice(room: ReturnType<typeof roomRef>, about: { platformEventId: string }, text: string): Promise<void>;
}

export class XmppCommands {
  private host?: BridgeHost;

  constructor(
    private readonly replies: CommandReplies,
    private readonly logger: Pick<Logger, 'warn'>,
  ) {}

  setHost(host: BridgeHost | undefined): void {
    this.host = host;
  }

  /** Run `!mimi invite` for `sender` (the occupant `nick`) in `r`. Never throws. */
  async invite(
    r: RoomRuntime,
    sender: LegacyUserRef,
    nick: string,
    address: string | undefined,
    platformEventId: string,
  ): Promise<void> {
    const affiliation = r.occupants.get(nick)?.affiliation ?? 'none';
    let reply: string;
    try {
      if (!MAY_INVITE.has(affiliation)) {
        reply = `Only the room's owners and admins can use !mimi invite (you are ${affiliation}).`;
      } else if (address === undefined) {
        reply = USAGE;
      } else if (this.host?.invite === undefined) {
        reply = 'Invites by address are not available on this gateway.';
      } else {
        const userUri = await this.host.invite(roomRef(r.jid), address, sender);
        reply = `Invited ${address} (${userUri}): they are a participant of the MIMI room and get an invitation on their side.`;
      }
    } catch (e) {
      reply = `!mimi invite failed: ${e instanceof GatewayError ? (e.humanMessage ?? e.message) : 'internal error'}`;
      this.logger.warn(`${r.jid}: !mimi invite ${address ?? ''} by ${sender.userId} failed: ${errorMessage(e)}`);
    }
    await this.replies.notice(roomRef(r.jid), { platformEventId }, reply).catch((e: unknown) => {
      this.logger.warn(`${r.jid}: could not answer !mimi invite: ${errorMessage(e)}`);
    });
  }
}
