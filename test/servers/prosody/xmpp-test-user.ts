/**
 * A scripted XMPP user for end-to-end tests: a real @xmpp/client connection to the test Prosody
 * that records every stanza it receives and waits on them (never on sleeps).
 */
import { randomUUID } from 'node:crypto';
import { client, type XmppClient } from '@xmpp/client';
import { NS } from '../../../bridges/xmpp/protocol/namespaces';
import { installSaslMechanisms } from '../../../bridges/xmpp/session/sasl-scram-sha1';
import { xml, type XmlElement } from '../../../bridges/xmpp/protocol/xml';
import { PROSODY_VHOST } from './prosody-server';

export const DEFAULT_STANZA_WAIT_MS = 15_000;

type Waiter = { match: (el: XmlElement) => boolean; resolve: (el: XmlElement) => void };

export class XmppTestUser {
  readonly received: XmlElement[] = [];
  private readonly waiters = new Set<Waiter>();
  private readonly rooms = new Map<string, string>();
  private onlineCount = 0;
  private readonly onlineWaiters = new Set<() => void>();

  private constructor(
    readonly xmpp: XmppClient,
    readonly username: string,
  ) {}

  get jid(): string {
    return `${this.username}@${PROSODY_VHOST}`;
  }

  get fullJid(): string {
    return this.xmpp.jid?.toString() ?? this.jid;
  }

  /** Connect and authenticate; with `rejoin`, reconnect by itself and re-enter its rooms. */
  static async connect(
    service: string,
    username: string,
    password: string,
    opts: { rejoin?: boolean; resource?: string } = {},
  ): Promise<XmppTestUser> {
    const c = client({ service, domain: PROSODY_VHOST, username, password, resource: opts.resource ?? randomUUID() });
    installSaslMechanisms(c);
    const user = new XmppTestUser(c, username);
    c.on('error', () => undefined);
    c.on('stanza', (el: XmlElement) => user.record(el));
    c.on('online', () => {
      user.onlineCount += 1;
      for (const w of user.onlineWaiters) w();
      user.onlineWaiters.clear();
      if (opts.rejoin && user.onlineCount > 1) {
        for (const [room, nick] of user.rooms) void c.send(joinPresence(room, nick)).catch(() => undefined);
      }
    });
    if (!opts.rejoin) c.reconnect.stop();
    await c.start();
    await c.send(xml('presence'));
    return user;
  }

  /** Wait for our self-presence in `room` (e.g. after an automatic rejoin), from `since` on. */
  rejoined(room: string, since: number, timeoutMs = 60_000): Promise<XmlElement> {
    const nick = this.rooms.get(room);
    return this.waitFor(
      (el) =>
        el.name === 'presence' &&
        el.attrs.from === `${room}/${nick ?? ''}` &&
        el.attrs.type === undefined &&
        (el.getChild('x', NS.MUC_USER)?.getChildren('status') ?? []).some((s) => s.attrs.code === '110'),
      `rejoining ${room}`,
      { since, timeoutMs },
    );
  }

  /** Resolves once the client is online again after `count` connections in total. */
  async waitOnlineCount(count: number, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.onlineCount < count) {
      if (Date.now() > deadline) throw new Error(`${this.username}: not back online in ${timeoutMs} ms`);
      await new Promise<void>((res) => {
        const t = setTimeout(res, 200);
        this.onlineWaiters.add(() => {
          clearTimeout(t);
          res();
        });
      });
    }
  }

  private record(el: XmlElement): void {
    this.received.push(el);
    for (const w of this.waiters) {
      if (w.match(el)) {
        this.waiters.delete(w);
        w.resolve(el);
      }
    }
  }

  /**
   * The first stanza matching `match` received from `since` (an index into `received`) on; waits
   * for it when not there yet.
   */
  waitFor(
    match: (el: XmlElement) => boolean,
    what: string,
    opts: { since?: number; timeoutMs?: number } = {},
  ): Promise<XmlElement> {
    const found = this.received.slice(opts.since ?? 0).find(match);
    if (found) return Promise.resolve(found);
    const timeoutMs = opts.timeoutMs ?? DEFAULT_STANZA_WAIT_MS;
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        match,
        resolve: (el) => {
          clearTimeout(timer);
          resolve(el);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`${this.username}: no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  mark(): number {
    return this.received.length;
  }

  async send(el: XmlElement): Promise<void> {
    await this.xmpp.send(el);
  }

  /** Enter a room and wait for the self-presence (status 110). */
  async join(room: string, nick: string): Promise<XmlElement> {
    const since = this.mark();
    this.rooms.set(room, nick);
    await this.send(joinPresence(room, nick));
    return this.waitFor(
      (el) =>
        el.name === 'presence' &&
        el.attrs.from === `${room}/${nick}` &&
        (el.attrs.type === 'error' ||
          (el.getChild('x', NS.MUC_USER)?.getChildren('status') ?? []).some((s) => s.attrs.code === '110')),
      `self-presence in ${room}`,
      { since },
    );
  }

  /** Create a persistent, archived room (XEP-0045 §10.1) with this user as owner. */
  async createRoom(room: string, nick: string, fields: Record<string, string> = {}): Promise<void> {
    await this.join(room, nick);
    await this.iq(
      xml(
        'iq',
        { to: room, type: 'set', id: randomUUID() },
        xml(
          'query',
          { xmlns: NS.MUC_OWNER },
          xml(
            'x',
            { xmlns: NS.DATA, type: 'submit' },
            xml('field', { var: 'FORM_TYPE' }, xml('value', {}, 'http://jabber.org/protocol/muc#roomconfig')),
            Object.entries({
              'muc#roomconfig_persistentroom': '1',
              'muc#roomconfig_enablearchiving': '1',
              'muc#roomconfig_whois': 'moderators',
              ...fields,
            }).map(([k, v]) => xml('field', { var: k }, xml('value', {}, v))),
          ),
        ),
      ),
    );
  }

  /** Send an IQ and wait for its result. @throws Error with the condition on an error reply */
  async iq(el: XmlElement): Promise<XmlElement> {
    const id = el.attrs.id ?? randomUUID();
    el.attrs.id = id;
    const since = this.mark();
    await this.send(el);
    const res = await this.waitFor((s) => s.name === 'iq' && s.attrs.id === id, `IQ result ${id}`, { since });
    if (res.attrs.type === 'error') {
      const cond = res.getChild('error')?.getChildElements()[0]?.name ?? 'unknown';
      throw new Error(`IQ ${id} failed: ${cond}`);
    }
    return res;
  }

  /** Every message in the room's archive (XEP-0313), oldest first. */
  async archive(room: string): Promise<XmlElement[]> {
    const out: XmlElement[] = [];
    let after: string | undefined;
    for (;;) {
      const queryId = randomUUID();
      const since = this.mark();
      const res = await this.iq(
        xml(
          'iq',
          { to: room, type: 'set' },
          xml(
            'query',
            { xmlns: NS.MAM, queryid: queryId },
            xml(
              'set',
              { xmlns: NS.RSM },
              xml('max', {}, '50'),
              after !== undefined ? xml('after', {}, after) : undefined,
            ),
          ),
        ),
      );
      const page = this.received
        .slice(since)
        .map((el) => el.getChild('result', NS.MAM))
        .filter((r): r is XmlElement => r !== undefined && r.attrs.queryid === queryId);
      for (const r of page) {
        const m = r.getChild('forwarded', NS.FORWARD)?.getChild('message');
        if (m) out.push(m);
      }
      const fin = res.getChild('fin', NS.MAM);
      if (fin?.attrs.complete === 'true' || page.length === 0) return out;
      after = page[page.length - 1]!.attrs.id;
    }
  }

  async setAffiliation(room: string, jid: string, affiliation: string): Promise<void> {
    await this.iq(
      xml('iq', { to: room, type: 'set' }, xml('query', { xmlns: NS.MUC_ADMIN }, xml('item', { jid, affiliation }))),
    );
  }

  async setRole(room: string, nick: string, role: string, reason?: string): Promise<void> {
    await this.iq(
      xml(
        'iq',
        { to: room, type: 'set' },
        xml(
          'query',
          { xmlns: NS.MUC_ADMIN },
          xml('item', { nick, role }, reason ? xml('reason', {}, reason) : undefined),
        ),
      ),
    );
  }

  /**
   * Send a groupchat message and wait for its reflection; returns the MUC's stanza-id and our id.
   * `extra` children go after the body.
   */
  async say(
    room: string,
    body: string | undefined,
    extra: XmlElement[] = [],
  ): Promise<{ id: string; stanzaId: string }> {
    const id = randomUUID();
    const since = this.mark();
    await this.send(
      xml(
        'message',
        { to: room, type: 'groupchat', id },
        body !== undefined ? xml('body', {}, body) : undefined,
        extra,
        xml('origin-id', { xmlns: NS.SID, id }),
      ),
    );
    const echo = await this.waitFor(
      (el) => el.name === 'message' && el.attrs.type === 'groupchat' && el.attrs.id === id,
      `reflection of ${id}`,
      { since },
    );
    const stanzaId = echo.getChildren('stanza-id', NS.SID).find((s) => s.attrs.by === room)?.attrs.id ?? '';
    return { id, stanzaId };
  }

  /** The groupchat messages received from `room`, in order, from `since` on. */
  groupchats(room: string, since = 0): XmlElement[] {
    return this.received
      .slice(since)
      .filter((el) => el.name === 'message' && el.attrs.type === 'groupchat' && el.attrs.from?.startsWith(`${room}/`));
  }

  async leave(room: string): Promise<void> {
    const nick = this.rooms.get(room);
    this.rooms.delete(room);
    if (nick) await this.send(xml('presence', { to: `${room}/${nick}`, type: 'unavailable' }));
  }

  async stop(): Promise<void> {
    this.xmpp.reconnect.stop();
    try {
      await this.xmpp.stop();
    } catch {
      // already gone
    }
  }
}

function joinPresence(room: string, nick: string): XmlElement {
  return xml('presence', { to: `${room}/${nick}` }, xml('x', { xmlns: NS.MUC }, xml('history', { maxstanzas: '0' })));
}
