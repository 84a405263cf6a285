/**
 * Staying in the rooms: after a new session every room is rejoined (bot, archive replay, puppets,
 * then posts whose reflection was lost are sent again), and the bot pings itself in each room
 * (XEP-0410) to notice when the MUC forgot it.
 */
import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { errorMessage } from '../../../src/common/errors';
import type { XmppMode } from '../mode/xmpp-mode';
import { fullJid } from '../protocol/jids';
import { buildPing } from '../protocol/stanzas';
import { XmppStanzaError } from '../session/stanza-error';
import type { XmppSession } from '../session/xmpp-session';
import type { RoomRuntime } from '../state/muc-room';
import type { MimiOccupants } from './mimi-occupants';
import type { MucOccupancy } from './occupancy';
import type { MucRooms } from './rooms';

export class RoomSync {
  private readonly logger = new Logger('XmppBridge');
  private selfPingTimer?: NodeJS.Timeout;

  constructor(
    private readonly session: XmppSession,
    private readonly mode: XmppMode,
    private readonly rooms: MucRooms,
    private readonly occupancy: MucOccupancy,
    private readonly members: MimiOccupants,
    private readonly opts: { readonly joinTimeoutMs: number; readonly selfPingIntervalMs: number },
    /** Send again what was posted on an earlier stream and not reflected (outbound). */
    private readonly resendUnreflected: (r: RoomRuntime) => Promise<void>,
  ) {}

  /** Rejoin every room after a (re)connection: bot, archive replay, puppets, unreflected posts. */
  async syncAll(): Promise<void> {
    const generation = this.session.generation;
    await Promise.all(
      [...this.rooms.values()].map(async (r) => {
        try {
          await this.syncRoom(r, generation);
        } catch (e) {
          this.logger.error(`${r.jid}: rejoining failed: ${errorMessage(e)}`);
        }
      }),
    );
  }

  async syncRoom(r: RoomRuntime, generation = this.session.generation): Promise<void> {
    const deadline = Date.now() + this.opts.joinTimeoutMs;
    await this.occupancy.ensureBot(r, deadline);
    await this.members.rejoin(r);
    if (generation !== this.session.generation) return;
    await this.resendUnreflected(r);
  }

  startSelfPing(): void {
    if (this.opts.selfPingIntervalMs <= 0) return;
    this.selfPingTimer = setInterval(() => void this.selfPingAll(), this.opts.selfPingIntervalMs);
    this.selfPingTimer.unref();
  }

  stopSelfPing(): void {
    if (this.selfPingTimer) clearInterval(this.selfPingTimer);
  }

  private async selfPingAll(): Promise<void> {
    if (!this.session.isOnline) return;
    for (const r of this.rooms.values()) {
      if (!r.botJoined || r.botNick === undefined) continue;
      try {
        await this.session.iq.request(
          buildPing({ from: this.mode.botFrom(), to: fullJid(r.jid, r.botNick), id: randomUUID() }),
        );
      } catch (e) {
        // XEP-0410 §3.2: these conditions mean we are no longer an occupant.
        if (
          e instanceof XmppStanzaError &&
          ['not-acceptable', 'item-not-found', 'not-allowed'].includes(e.info.condition)
        ) {
          this.logger.warn(`${r.jid}: self-ping says the bridge left the room; rejoining`);
          r.botJoined = false;
          void this.syncRoom(r).catch((err: unknown) =>
            this.logger.error(`${r.jid}: rejoin failed: ${errorMessage(err)}`),
          );
        }
      }
    }
  }
}
