/**
 * Socket-free XMPP for unit tests of the bridge: a transport that records what the bridge sends
 * and lets the test feed stanzas in (as xmpp.js's @xmpp/test does with mockInput/promiseSend),
 * plus a small scripted MUC service that answers the way Prosody does (self-presence with status
 * 110, reflections with a stanza-id, disco#info, muc#admin results, empty archives).
 */
import { ErrorCode, PlatformError } from '../../../src/common/errors';
import { bare, resourceOf } from '../../../bridges/xmpp/protocol/jids';
import { NS } from '../../../bridges/xmpp/protocol/namespaces';
import { buildErrorElement } from '../../../bridges/xmpp/protocol/stanzas';
import { parseXml, xml, type XmlElement } from '../../../bridges/xmpp/protocol/xml';
import type { TransportHandlers, XmppTransport } from '../../../bridges/xmpp/session/xmpp-transport';

export class FakeXmppTransport implements XmppTransport {
  readonly sent: XmlElement[] = [];
  /** Errors the per-stanza guard caught (the real transport logs them). */
  readonly handlerErrors: unknown[] = [];
  isOnline = false;
  streamManagement = false;
  /** Answers to what the bridge sends (a scripted server); its stanzas are fed back in. */
  respond?: (el: XmlElement) => XmlElement[];
  private handlers?: TransportHandlers;
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly kind: 'component' | 'client',
    readonly address: string,
  ) {}

  async start(handlers: TransportHandlers): Promise<void> {
    this.handlers = handlers;
    this.isOnline = true;
    handlers.online({ resumed: false });
  }

  async stop(): Promise<void> {
    this.isOnline = false;
  }

  async send(el: XmlElement): Promise<void> {
    if (!this.isOnline) throw new PlatformError(ErrorCode.PlatformUnavailable, 'fake stream offline');
    this.sent.push(el);
    for (const w of this.waiters) w();
    const replies = this.respond?.(el) ?? [];
    if (replies.length > 0) setImmediate(() => replies.forEach((r) => void this.inject(r)));
  }

  /** Feed a stanza in, as if the server sent it. IQ get/set get the reply the real transport would send. */
  async inject(stanza: XmlElement | string): Promise<void> {
    const el = typeof stanza === 'string' ? parseXml(stanza) : stanza;
    if (!this.handlers) throw new Error('not started');
    if (el.name === 'iq' && (el.attrs.type === 'get' || el.attrs.type === 'set')) {
      let reply: XmlElement | true | undefined;
      try {
        reply = await this.handlers.iqRequest(el);
      } catch {
        reply = buildErrorElement('cancel', 'internal-server-error');
      }
      const base = { from: el.attrs.to, to: el.attrs.from, id: el.attrs.id };
      if (reply === undefined) {
        this.sent.push(xml('iq', { ...base, type: 'error' }, buildErrorElement('cancel', 'service-unavailable')));
      } else if (reply !== true && reply.name === 'error') {
        this.sent.push(xml('iq', { ...base, type: 'error' }, reply));
      } else {
        this.sent.push(xml('iq', { ...base, type: 'result' }, reply === true ? undefined : reply));
      }
      for (const w of this.waiters) w();
      return;
    }
    try {
      this.handlers.stanza(el);
    } catch (e) {
      this.handlerErrors.push(e);
    }
  }

  /** The stream drops; `online()` brings it back (a new session unless `resumed`). */
  goOffline(): void {
    this.isOnline = false;
    this.handlers?.offline('test');
  }

  goOnline(resumed = false): void {
    this.isOnline = true;
    this.handlers?.online({ resumed });
  }

  /** The first sent stanza matching, from index `since` on; waits up to `timeoutMs`. */
  async waitForSent(
    match: (el: XmlElement) => boolean,
    what: string,
    since = 0,
    timeoutMs = 5000,
  ): Promise<XmlElement> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.sent.slice(since).find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`nothing sent matching ${what}; sent:\n${this.sent.map(String).join('\n')}`);
      await new Promise<void>((res) => {
        const done = (): void => {
          clearTimeout(t);
          this.waiters.delete(done);
          res();
        };
        const t = setTimeout(done, left);
        this.waiters.add(done);
      });
    }
  }
}

export interface FakeOccupant {
  readonly nick: string;
  readonly jid: string;
  affiliation: string;
  role: string;
  readonly occupantId: string;
}

/**
 * A scripted MUC service: rooms with occupants; joins (with conflict and strict-nick refusals),
 * reflections stamped with stanza-ids, leaves, nick changes, muc#admin and disco#info answers.
 */
export class FakeMucService {
  readonly rooms = new Map<string, Map<string, FakeOccupant>>();
  /** Archived messages per room (stanza-id, stanza). */
  readonly archive = new Map<string, { id: string; message: XmlElement }[]>();
  /** Nicks the service refuses as "jid-malformed" (strict resourceprep). */
  rejectNick: (nick: string) => boolean = () => false;
  /** Answer groupchat messages with this error instead of reflecting them. */
  messageError?: (el: XmlElement) => string | undefined;
  /** Do not reflect groupchat messages (a lost reflection). */
  swallowMessages = false;
  /** XEP-0425 version the rooms announce and carry out (Prosody's mod_muc_moderation is 0); none by default. */
  moderation?: 0 | 1;
  /** Moderation requests received (room, stanza-id, reason). */
  readonly moderated: { room: string; stanzaId: string; reason?: string }[] = [];
  private seq = 0;

  room(jid: string): Map<string, FakeOccupant> {
    let r = this.rooms.get(jid);
    if (!r) {
      r = new Map();
      this.rooms.set(jid, r);
    }
    return r;
  }

  /** Add a native occupant (its presence is not broadcast; use `join` for that). */
  seat(room: string, occupant: FakeOccupant): void {
    this.room(room).set(occupant.nick, occupant);
  }

  nextStanzaId(): string {
    this.seq += 1;
    return `sid-${this.seq}`;
  }

  presenceOf(room: string, o: FakeOccupant, to: string, extraCodes: string[] = [], type?: string): XmlElement {
    return xml(
      'presence',
      { from: `${room}/${o.nick}`, to, type },
      xml('occupant-id', { xmlns: NS.OCCUPANT_ID, id: o.occupantId }),
      xml(
        'x',
        { xmlns: NS.MUC_USER },
        xml('item', { affiliation: o.affiliation, role: o.role, jid: o.jid }),
        extraCodes.map((code) => xml('status', { code })),
      ),
    );
  }

  /** Everything a room sends its occupants when `el` arrives from one of them. */
  readonly respond = (el: XmlElement): XmlElement[] => {
    const to = el.attrs.to ?? '';
    const from = el.attrs.from ?? 'relay@example.org/r';
    const room = bare(to);
    if (el.name === 'presence') return this.onPresence(room, resourceOf(to), from, el);
    if (el.name === 'message' && el.attrs.type === 'groupchat') return this.onGroupchat(room, from, el);
    if (el.name === 'iq') return this.onIq(room, from, el);
    return [];
  };

  private onPresence(room: string, nick: string, from: string, el: XmlElement): XmlElement[] {
    const occupants = this.room(room);
    const me = [...occupants.values()].find((o) => o.jid === from);
    if (el.attrs.type === 'unavailable') {
      if (!me) return [];
      occupants.delete(me.nick);
      return [...occupants.values(), me].map((o) =>
        this.presenceOf(room, me, o.jid, o === me ? ['110'] : [], 'unavailable'),
      );
    }
    if (me && me.nick !== nick) {
      // Nick change (XEP-0045 §7.6).
      occupants.delete(me.nick);
      const renamed = { ...me, nick };
      occupants.set(nick, renamed);
      const out: XmlElement[] = [];
      for (const o of occupants.values()) {
        const self = o.jid === from ? ['110'] : [];
        const gone = this.presenceOf(room, me, o.jid, ['303', ...self], 'unavailable');
        gone.getChild('x', NS.MUC_USER)!.getChild('item')!.attrs.nick = nick;
        out.push(gone, this.presenceOf(room, renamed, o.jid, self));
      }
      return out;
    }
    if (me) return [this.presenceOf(room, me, from, ['110'])];
    if (occupants.has(nick)) return [this.errorPresence(room, nick, from, 'cancel', 'conflict')];
    if (this.rejectNick(nick)) return [this.errorPresence(room, nick, from, 'modify', 'jid-malformed')];
    const created = occupants.size === 0 ? ['201'] : [];
    const newcomer: FakeOccupant = {
      nick,
      jid: from,
      affiliation: created.length > 0 ? 'owner' : 'none',
      role: created.length > 0 ? 'moderator' : 'participant',
      occupantId: `occ-${bare(from)}`,
    };
    const out: XmlElement[] = [...occupants.values()].map((o) => this.presenceOf(room, o, from));
    occupants.set(nick, newcomer);
    for (const o of occupants.values()) {
      if (o.jid !== from) out.push(this.presenceOf(room, newcomer, o.jid));
    }
    out.push(this.presenceOf(room, newcomer, from, [...created, '110']));
    out.push(xml('message', { from: room, to: from, type: 'groupchat' }, xml('subject')));
    return out;
  }

  private errorPresence(room: string, nick: string, to: string, type: string, condition: string): XmlElement {
    return xml(
      'presence',
      { from: `${room}/${nick}`, to, type: 'error' },
      xml('error', { type }, xml(condition, { xmlns: NS.STANZAS })),
    );
  }

  private onGroupchat(room: string, from: string, el: XmlElement): XmlElement[] {
    const occupants = this.room(room);
    const sender = [...occupants.values()].find((o) => o.jid === from);
    const error = !sender ? 'not-acceptable' : this.messageError?.(el);
    if (error) {
      return [
        xml(
          'message',
          { from: room, to: from, type: 'error', id: el.attrs.id },
          xml('error', { type: 'cancel' }, xml(error, { xmlns: NS.STANZAS })),
        ),
      ];
    }
    if (this.swallowMessages) return [];
    return this.broadcast(room, sender!, el);
  }

  /** Reflect `el` from `sender` to every occupant (with stanza-id and occupant-id), archiving it. */
  broadcast(room: string, sender: FakeOccupant, el: XmlElement): XmlElement[] {
    const id = this.nextStanzaId();
    const children = el.children.filter((c): c is XmlElement => typeof c !== 'string');
    const stored = xml(
      'message',
      { from: `${room}/${sender.nick}`, type: 'groupchat', id: el.attrs.id },
      children.map((c) => parseXml(c.toString())),
      xml('occupant-id', { xmlns: NS.OCCUPANT_ID, id: sender.occupantId }),
    );
    const list = this.archive.get(room) ?? [];
    list.push({ id, message: stored });
    this.archive.set(room, list);
    return [...this.room(room).values()].map((o) => {
      const copy = parseXml(stored.toString());
      copy.attrs.to = o.jid;
      copy.append(xml('stanza-id', { xmlns: NS.SID, by: room, id }));
      return copy;
    });
  }

  private onIq(room: string, from: string, el: XmlElement): XmlElement[] {
    const result = (payload?: XmlElement): XmlElement =>
      xml('iq', { from: el.attrs.to, to: from, id: el.attrs.id, type: 'result' }, payload);
    const child = el.getChildElements()[0];
    if (!child) return [];
    if (child.is('query', NS.DISCO_INFO)) {
      return [
        result(
          xml(
            'query',
            { xmlns: NS.DISCO_INFO },
            xml('identity', { category: 'conference', type: 'text', name: `Room ${room}` }),
            xml('feature', { var: NS.MUC }),
            xml('feature', { var: NS.MAM }),
            this.moderation === undefined
              ? undefined
              : xml('feature', { var: this.moderation === 1 ? NS.MODERATE : NS.MODERATE_0 }),
          ),
        ),
      ];
    }
    if (child.is('query', NS.MAM)) {
      const queryId = child.attrs.queryid ?? '';
      const all = this.archive.get(room) ?? [];
      const set = child.getChild('set', NS.RSM);
      const after = set?.getChildText('after') ?? undefined;
      const before = set?.getChild('before');
      const max = Number(set?.getChildText('max') ?? '50');
      let items = all;
      if (after !== undefined) items = all.slice(all.findIndex((m) => m.id === after) + 1);
      if (before !== undefined) items = all.slice(-max);
      const page = items.slice(0, max);
      const out: XmlElement[] = page.map((m) =>
        xml(
          'message',
          { from: room, to: from },
          xml(
            'result',
            { xmlns: NS.MAM, queryid: queryId, id: m.id },
            xml(
              'forwarded',
              { xmlns: NS.FORWARD },
              xml('delay', { xmlns: NS.DELAY, stamp: new Date(0).toISOString() }),
              parseXml(m.message.toString()),
            ),
          ),
        ),
      );
      out.push(result(xml('fin', { xmlns: NS.MAM, complete: page.length === items.length ? 'true' : 'false' })));
      return out;
    }
    if (child.is('query', NS.MUC_ADMIN)) {
      const out: XmlElement[] = [];
      for (const item of child.getChildren('item')) {
        const target = item.attrs.nick
          ? this.room(room).get(item.attrs.nick)
          : [...this.room(room).values()].find((o) => item.attrs.jid && bare(o.jid) === item.attrs.jid);
        if (el.attrs.type === 'get') continue;
        if (!target) continue;
        if (item.attrs.role === 'none') {
          this.room(room).delete(target.nick);
          for (const o of [...this.room(room).values(), target]) {
            out.push(this.presenceOf(room, target, o.jid, o === target ? ['307', '110'] : ['307'], 'unavailable'));
          }
          continue;
        }
        if (item.attrs.role) target.role = item.attrs.role;
        if (item.attrs.affiliation) target.affiliation = item.attrs.affiliation;
        for (const o of this.room(room).values()) out.push(this.presenceOf(room, target, o.jid));
      }
      out.unshift(result(el.attrs.type === 'get' ? xml('query', { xmlns: NS.MUC_ADMIN }) : undefined));
      return out;
    }
    if (child.is('query', NS.MUC_OWNER)) return [result()];
    if (child.is('apply-to', NS.FASTEN) && this.moderation === 0) {
      const moderate = child.getChild('moderate', NS.MODERATE_0);
      const stanzaId = child.attrs.id ?? '';
      const reason = moderate?.getChildText('reason') ?? undefined;
      this.moderated.push({ room, stanzaId, reason });
      const by = [...this.room(room).values()].find((o) => o.jid === from)?.nick ?? '';
      const announce = (to: string): XmlElement =>
        xml(
          'message',
          { from: room, to, type: 'groupchat', id: `mod-${stanzaId}` },
          xml(
            'apply-to',
            { xmlns: NS.FASTEN, id: stanzaId },
            xml('moderated', { xmlns: NS.MODERATE_0, by: `${room}/${by}` }, xml('retract', { xmlns: NS.RETRACT_0 })),
          ),
        );
      return [result(), ...[...this.room(room).values()].map((o) => announce(o.jid))];
    }
    if (child.is('ping', NS.PING)) {
      // XEP-0410: a ping to one's own occupant JID succeeds only while one is an occupant.
      const occupant = this.room(room).get(resourceOf(el.attrs.to ?? ''));
      if (occupant?.jid === from) return [result()];
      return [
        xml(
          'iq',
          { from: el.attrs.to, to: from, id: el.attrs.id, type: 'error' },
          buildErrorElement('cancel', 'not-acceptable'),
        ),
      ];
    }
    return [];
  }
}
