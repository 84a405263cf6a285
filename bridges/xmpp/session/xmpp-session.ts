/**
 * One running XMPP session of the bridge: the transport, the IQ client, the stream generation
 * (a new one per new session; an XEP-0198 resumption keeps it) and the bridge's timers.
 *
 * It routes what the stream delivers: IQ results to the IqClient, IQ requests to the responder,
 * messages and presences to the inbound handlers, and tells the MUC layer when occupancy is lost
 * (a new session) or pending exchanges must fail (the stream went offline).
 */
import { Logger } from '@nestjs/common';
import { ErrorCode, errorMessage, PlatformError } from '../../../src/common/errors';
import type { XmlElement } from '../protocol/xml';
import { withDeadline } from '../../kit/post-guard';
import { IqClient } from './iq-client';
import { answerIqRequest } from './iq-responder';
import type { XmppTransport } from './xmpp-transport';

export interface SessionHandlers {
  message(el: XmlElement): void;
  presence(el: XmlElement): void;
  /** A new session started (not a resumption): every MUC occupancy is gone. */
  occupancyLost(): void;
  /** After occupancyLost and waking the waiters: rejoin everything. */
  rejoin(): Promise<void>;
  /** The stream went offline: exchanges waiting for an answer fail with `error`. */
  offline(error: PlatformError): void;
}

export interface SessionOptions {
  readonly connectTimeoutMs: number;
  readonly iqTimeoutMs: number;
  /** XEP-0030 identity category of our entities. */
  readonly discoCategory: 'gateway' | 'client';
}

export class XmppSession {
  private readonly logger = new Logger('XmppBridge');
  readonly iq: IqClient;
  /** Incremented for each new session; posts remember the one they were sent on. */
  generation = 0;
  started = false;
  stopping = false;
  private readonly onlineWaiters = new Set<() => void>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private handlers?: SessionHandlers;
  private syncing?: Promise<void>;
  private readonly responders: ((el: XmlElement) => XmlElement | undefined)[] = [];

  constructor(
    readonly transport: XmppTransport,
    private readonly opts: SessionOptions,
  ) {
    this.iq = new IqClient(transport, opts.iqTimeoutMs);
  }

  get isOnline(): boolean {
    return this.transport.isOnline;
  }

  /** The component domain, or the client's full JID. */
  get address(): string | undefined {
    return this.transport.address;
  }

  /** Connect; resolves once online and the first rejoin is done. */
  async open(handlers: SessionHandlers): Promise<void> {
    this.handlers = handlers;
    await this.transport.start(
      {
        stanza: (el) => this.onStanza(el),
        iqRequest: async (el) => this.answer(el),
        online: (e) => this.onOnline(e.resumed),
        offline: (reason) => this.onOffline(reason),
      },
      this.opts.connectTimeoutMs,
    );
    await this.syncing;
  }

  /** Another part answers some IQ requests (a puppet's vCard); the first answer wins, then ping and disco. */
  addIqResponder(responder: (el: XmlElement) => XmlElement | undefined): void {
    this.responders.push(responder);
  }

  private answer(el: XmlElement): XmlElement | true | undefined {
    for (const r of this.responders) {
      const answer = r(el);
      if (answer !== undefined) return answer;
    }
    return answerIqRequest(el, this.opts.discoCategory);
  }

  async close(): Promise<void> {
    await this.transport.stop();
  }

  send(el: XmlElement): Promise<void> {
    return this.transport.send(el);
  }

  async sendQuietly(el: XmlElement): Promise<void> {
    try {
      await this.transport.send(el);
    } catch (e) {
      this.logger.debug(`send failed: ${errorMessage(e)}`);
    }
  }

  /** Resolves when the stream is online, or rejects with a Timeout at `deadline`. */
  async waitOnline(deadline: number): Promise<void> {
    if (this.transport.isOnline) return;
    await withDeadline(
      deadline,
      'waiting for the XMPP stream',
      () => new Promise<void>((res) => this.onlineWaiters.add(res)),
    );
  }

  /** Run `fn` after `ms`, unless the session is stopped first. */
  later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  /** A timer to clear on stop. */
  track(t: NodeJS.Timeout): void {
    this.timers.add(t);
  }

  untrack(t: NodeJS.Timeout): void {
    this.timers.delete(t);
  }

  clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /** Stopping: exchanges waiting for an answer fail. */
  failPending(error: PlatformError): void {
    this.handlers?.offline(error);
    this.iq.failAll(error);
  }

  private onStanza(el: XmlElement): void {
    switch (el.name) {
      case 'message':
        return this.handlers?.message(el);
      case 'presence':
        return this.handlers?.presence(el);
      case 'iq':
        return this.iq.onResponse(el);
      default:
        return;
    }
  }

  private onOnline(resumed: boolean): void {
    if (resumed) {
      this.wakeOnlineWaiters();
      return;
    }
    this.generation += 1;
    this.handlers?.occupancyLost();
    this.wakeOnlineWaiters();
    this.syncing = this.handlers?.rejoin();
  }

  /**
   * The stream is gone. Occupancy is only known lost once a new session starts (`onOnline` with
   * resumed false): an XEP-0198 resumption keeps it.
   */
  private onOffline(reason: string): void {
    this.logger.warn(`XMPP stream offline (${reason}); reconnecting`);
    this.failPending(new PlatformError(ErrorCode.PlatformUnavailable, `XMPP stream offline: ${reason}`));
  }

  private wakeOnlineWaiters(): void {
    for (const w of this.onlineWaiters) w();
    this.onlineWaiters.clear();
  }
}
