/**
 * Archive replay (XEP-0313): when the bot (re)joins a room, the messages archived after the
 * cursor are replayed in order through the groupchat handler, before live messages flow again.
 * With no cursor yet, the cursor starts at the newest archived message.
 */
import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { errorMessage } from '../../../src/common/errors';
import type { XmppMode } from '../mode/xmpp-mode';
import type { MucRooms } from '../muc/rooms';
import type { RoomInfo } from '../muc/room-info';
import { bare } from '../protocol/jids';
import { buildMamQuery, parseMamFin, parseMamResult } from '../protocol/stanzas';
import type { XmlElement } from '../protocol/xml';
import type { IqClient } from '../session/iq-client';
import { XmppStanzaError } from '../session/stanza-error';
import type { RoomRuntime } from '../state/muc-room';

/** Page size of archive queries (Prosody's max_archive_query_results default is 50). */
const MAM_PAGE = 50;

export interface ArchivedItem {
  readonly archiveId: string;
  readonly stamp?: number;
  readonly message: XmlElement;
}

interface MamCollector {
  readonly room: string;
  readonly items: ArchivedItem[];
}

/** Handles one archived groupchat message (the groupchat handler, with the archive's id and time). */
export type ReplayArchived = (
  r: RoomRuntime,
  message: XmlElement,
  archived: { archiveId: string; stamp?: number },
) => void;

export class MamCatchUp {
  private readonly logger = new Logger('XmppBridge');
  private readonly queries = new Map<string, MamCollector>();

  constructor(
    private readonly iq: IqClient,
    private readonly mode: XmppMode,
    private readonly rooms: MucRooms,
    private readonly roomInfo: RoomInfo,
    private readonly replay: ReplayArchived,
  ) {}

  /** An archive result message (XEP-0313 §4.2) for one of our queries is collected; true when `el` is one. */
  collect(el: XmlElement): boolean {
    const mam = parseMamResult(el);
    if (!mam) return false;
    const collector = this.queries.get(mam.queryId);
    if (collector && bare(el.attrs.from ?? collector.room) === collector.room) {
      collector.items.push({ archiveId: mam.archiveId, stamp: mam.stamp, message: mam.message });
    }
    return true;
  }

  /** Replay the archive after the cursor, in order; with no cursor, start it at the newest message. */
  async catchUp(r: RoomRuntime): Promise<void> {
    if (r.mamSupported === undefined) await this.roomInfo.discover(r);
    if (!r.mamSupported) return;
    const cursor = r.state.cursor;
    if (!cursor) {
      const page = await this.page(r, { before: '', max: 1 });
      const last = page.items[page.items.length - 1];
      if (last) {
        r.state.cursor = { stanzaId: last.archiveId, at: last.stamp ?? Date.now() };
        this.rooms.changed();
      }
      return;
    }
    let after = cursor.stanzaId;
    let byTime = false;
    let replayed = 0;
    for (;;) {
      let page: Awaited<ReturnType<MamCatchUp['page']>>;
      try {
        page = byTime
          ? await this.page(r, {
              start: new Date(cursor.at - 1000),
              max: MAM_PAGE,
              after: after === cursor.stanzaId ? undefined : after,
            })
          : await this.page(r, { after, max: MAM_PAGE });
      } catch (e) {
        if (!byTime && e instanceof XmppStanzaError && e.info.condition === 'item-not-found') {
          // The cursor left the archive (expired): replay by time instead; the core drops what it has.
          this.logger.warn(`${r.jid}: archive cursor ${cursor.stanzaId} unknown; replaying by time`);
          byTime = true;
          continue;
        }
        throw e;
      }
      for (const item of page.items) {
        replayed += 1;
        try {
          this.replay(r, item.message, { archiveId: item.archiveId, stamp: item.stamp });
        } catch (e) {
          this.logger.warn(`${r.jid}: archived message ${item.archiveId} skipped: ${errorMessage(e)}`);
        }
      }
      const last = page.items[page.items.length - 1];
      if (page.complete || !last) break;
      after = last.archiveId;
    }
    if (replayed > 0) this.logger.log(`${r.jid}: replayed ${replayed} archived message(s)`);
  }

  private async page(
    r: RoomRuntime,
    q: { after?: string; before?: string; start?: Date; max: number },
  ): Promise<{ complete: boolean; items: ArchivedItem[] }> {
    const queryId = randomUUID();
    const collector: MamCollector = { room: r.jid, items: [] };
    this.queries.set(queryId, collector);
    try {
      const res = await this.iq.request(
        buildMamQuery({ from: this.mode.botFrom(), to: r.jid, id: randomUUID(), queryId, ...q }),
      );
      return { complete: parseMamFin(res).complete, items: collector.items };
    } finally {
      this.queries.delete(queryId);
    }
  }
}
