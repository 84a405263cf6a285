/**
 * One person's client in one room of the headline environment (headline-env.ts): what they do
 * (say, reply, edit, react, delete) with the stanzas and events their client would send, and
 * what they see, read from what their client received. Used by test/e2e/headline.e2e-spec.ts and
 * the demo (test/demo/demo.ts).
 */
import { createHash, randomUUID } from 'node:crypto';
import { NS } from '../../../bridges/xmpp/protocol/namespaces';
import { xml, type XmlElement } from '../../../bridges/xmpp/protocol/xml';
import type { XmppTestUser } from '../../servers/prosody/xmpp-test-user';
import type { ClientEvent, EphemeralEvent, MatrixUserClient } from '../../servers/synapse/synapse-server';

const MATRIX_WAIT_MS = 30_000;
const XMPP_WAIT_MS = 30_000;

/** A Matrix user in one room, through the client-server API. */
export class MatrixSide {
  constructor(
    readonly client: MatrixUserClient,
    readonly roomId: string,
  ) {}

  get userId(): string {
    return this.client.userId;
  }

  say(text: string): Promise<string> {
    return this.client.sendText(this.roomId, text);
  }

  /** A reply without a fallback quote (Matrix spec v1.13). */
  reply(to: string, text: string): Promise<string> {
    return this.client.sendText(this.roomId, text, { 'm.relates_to': { 'm.in_reply_to': { event_id: to } } });
  }

  edit(target: string, text: string): Promise<string> {
    return this.client.send(this.roomId, 'm.room.message', {
      msgtype: 'm.text',
      body: `* ${text}`,
      'm.new_content': { msgtype: 'm.text', body: text },
      'm.relates_to': { rel_type: 'm.replace', event_id: target },
    });
  }

  react(target: string, key: string): Promise<string> {
    return this.client.send(this.roomId, 'm.reaction', {
      'm.relates_to': { rel_type: 'm.annotation', event_id: target, key },
    });
  }

  redact(target: string): Promise<string> {
    return this.client.redact(this.roomId, target);
  }

  /** alice's public read receipt on `eventId` (her client's read position). */
  async markRead(eventId: string): Promise<void> {
    const path = `/_matrix/client/v3/rooms/${encodeURIComponent(this.roomId)}/receipt/m.read/${encodeURIComponent(eventId)}`;
    await this.client.request('POST', path, {});
  }

  /** Waits for the m.receipt (through /sync) saying `userId` read `eventId` in this room. */
  seesReadReceipt(eventId: string, userId: string, timeoutMs = MATRIX_WAIT_MS): Promise<EphemeralEvent> {
    return this.client.waitForEphemeral((e) => {
      if (e.room_id !== this.roomId || e.type !== 'm.receipt') return false;
      const reads = (e.content[eventId] as { 'm.read'?: Record<string, unknown> } | undefined)?.['m.read'];
      return reads !== undefined && userId in reads;
    }, timeoutMs);
  }

  /** The first timeline event of this room matching `pred` (waits for it). */
  sees(pred: (e: ClientEvent) => boolean, timeoutMs = MATRIX_WAIT_MS): Promise<ClientEvent> {
    return this.client.waitForEvent((e) => e.room_id === this.roomId && pred(e), timeoutMs);
  }

  /** The events of this room seen so far matching `pred`. */
  seen(pred: (e: ClientEvent) => boolean): ClientEvent[] {
    return this.client.seen.filter((e) => e.room_id === this.roomId && pred(e));
  }

  /** The member event of `userId` that was current when event `eventId` arrived in this client's timeline. */
  memberBefore(eventId: string, userId: string): ClientEvent | undefined {
    const timeline = this.seen(() => true);
    return timeline
      .slice(
        0,
        timeline.findIndex((x) => x.event_id === eventId),
      )
      .filter((x) => x.type === 'm.room.member' && x.state_key === userId)
      .at(-1);
  }

  /** The display name a client shows for `userId` here: the member event's, else the user ID. */
  async displayName(userId: string): Promise<string> {
    try {
      const member = await this.client.getState<{ displayname?: unknown }>(this.roomId, 'm.room.member', userId);
      return typeof member.displayname === 'string' && member.displayname !== '' ? member.displayname : userId;
    } catch {
      return userId;
    }
  }
}

/** What an XMPP user sent: the message id and the MUC's stanza-id (XEP-0359). */
export interface SentStanza {
  readonly id: string;
  readonly stanzaId: string;
}

/** An XMPP user in one MUC, through a real c2s connection. */
export class XmppSide {
  constructor(
    readonly user: XmppTestUser,
    readonly muc: string,
    readonly nick: string,
  ) {}

  get jid(): string {
    return this.user.jid;
  }

  join(): Promise<XmlElement> {
    return this.user.join(this.muc, this.nick);
  }

  /** Where received stanzas stand now: `seesFrom` with this mark looks only at what comes later. */
  mark(): number {
    return this.user.mark();
  }

  say(text: string): Promise<SentStanza> {
    return this.user.say(this.muc, text);
  }

  /** XEP-0461 reply with an XEP-0428 fallback quote, as clients send it. */
  reply(to: { stanzaId: string; nick: string; text: string }, text: string): Promise<SentStanza> {
    const quote = `> ${to.nick}: ${to.text}\n`;
    return this.user.say(this.muc, `${quote}${text}`, [
      xml('reply', { xmlns: NS.REPLY, to: `${this.muc}/${to.nick}`, id: to.stanzaId }),
      xml(
        'fallback',
        { xmlns: NS.FALLBACK, for: NS.REPLY },
        xml('body', { start: '0', end: String([...quote].length) }),
      ),
    ]);
  }

  /** XEP-0308 correction of our own message `id`. */
  correct(id: string, text: string): Promise<SentStanza> {
    return this.user.say(this.muc, text, [xml('replace', { xmlns: NS.CORRECT, id })]);
  }

  /** XEP-0444: the full set of our reactions to message `stanzaId`, with a store hint. */
  react(stanzaId: string, ...emojis: string[]): Promise<SentStanza> {
    return this.user.say(this.muc, undefined, [
      xml(
        'reactions',
        { xmlns: NS.REACTIONS, id: stanzaId },
        emojis.map((e) => xml('reaction', {}, e)),
      ),
      xml('store', { xmlns: NS.HINTS }),
    ]);
  }

  /** XEP-0333 in a MUC: a `displayed` marker naming the message by the MUC's stanza-id, with a store hint. */
  markDisplayed(stanzaId: string): Promise<SentStanza> {
    return this.user.say(this.muc, undefined, [
      xml('displayed', { xmlns: NS.CHAT_MARKERS, id: stanzaId }),
      xml('store', { xmlns: NS.HINTS }),
    ]);
  }

  /** Publish our vCard (XEP-0054) with `photo`, and announce its hash in the room (XEP-0153), as MUC clients do. */
  async setAvatar(photo: Buffer, type: string): Promise<void> {
    await this.user.iq(
      xml(
        'iq',
        { type: 'set' },
        xml(
          'vCard',
          { xmlns: NS.VCARD },
          xml('PHOTO', {}, xml('TYPE', {}, type), xml('BINVAL', {}, photo.toString('base64'))),
        ),
      ),
    );
    await this.user.send(
      xml(
        'presence',
        { to: `${this.muc}/${this.nick}` },
        xml('x', { xmlns: NS.VCARD_UPDATE }, xml('photo', {}, sha1(photo))),
      ),
    );
  }

  /** The vCard photo of occupant `nick`, as a MUC client fetches it (an IQ to room/nick, XEP-0054/XEP-0153). */
  async occupantPhoto(nick: string): Promise<Buffer | undefined> {
    const res = await this.user.iq(
      xml('iq', { type: 'get', to: `${this.muc}/${nick}` }, xml('vCard', { xmlns: NS.VCARD })),
    );
    const binval = res.getChild('vCard', NS.VCARD)?.getChild('PHOTO')?.getChildText('BINVAL');
    return binval ? Buffer.from(binval.replace(/\s+/g, ''), 'base64') : undefined;
  }

  /** XEP-0424 retraction of our own message `stanzaId`. */
  retract(stanzaId: string): Promise<SentStanza> {
    return this.user.say(this.muc, 'This person attempted to retract a previous message.', [
      xml('retract', { xmlns: NS.RETRACT, id: stanzaId }),
      xml('fallback', { xmlns: NS.FALLBACK, for: NS.RETRACT }),
    ]);
  }

  /** The first groupchat from someone else in this MUC matching `pred`, from `since` on (waits for it). */
  sees(pred: (el: XmlElement) => boolean, what: string, since = 0): Promise<XmlElement> {
    return this.user.waitFor((el) => this.isFromOther(el) && pred(el), what, { since, timeoutMs: XMPP_WAIT_MS });
  }

  /** Groupchats from someone else in this MUC received so far matching `pred`. */
  seen(pred: (el: XmlElement) => boolean): XmlElement[] {
    return this.user.groupchats(this.muc).filter((el) => this.isFromOther(el) && pred(el));
  }

  private isFromOther(el: XmlElement): boolean {
    return (
      el.name === 'message' &&
      el.attrs.type === 'groupchat' &&
      el.attrs.from?.startsWith(`${this.muc}/`) === true &&
      el.attrs.from !== `${this.muc}/${this.nick}`
    );
  }
}

/** Hex SHA-1, as XEP-0153 names a photo. */
export function sha1(bytes: Uint8Array): string {
  return createHash('sha1').update(bytes).digest('hex');
}

/** The nick of a groupchat's sender (the resource of `from`). */
export function nickOf(el: XmlElement): string {
  const from = el.attrs.from ?? '';
  return from.slice(from.indexOf('/') + 1);
}

/** The MUC's stanza-id of a groupchat (XEP-0359, `by` the room). */
export function stanzaIdOf(el: XmlElement, muc: string): string | undefined {
  return el.getChildren('stanza-id', NS.SID).find((s) => s.attrs.by === muc)?.attrs.id;
}

export function relatesTo(e: ClientEvent): Record<string, unknown> | undefined {
  return e.content['m.relates_to'] as Record<string, unknown> | undefined;
}

/** The event a redaction removes (`redacts` in content from room v11, top-level before). */
export function redactedBy(e: ClientEvent): string | undefined {
  const top = (e as ClientEvent & { redacts?: string }).redacts;
  return (e.content['redacts'] as string | undefined) ?? top;
}

/** A unique suffix for one run's texts. */
export function runTag(): string {
  return randomUUID().slice(0, 8);
}
