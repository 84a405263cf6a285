/**
 * The XMPP stream under the bridge: an XEP-0114 component connection (@xmpp/component) or a client
 * connection (@xmpp/client, relay mode), behind one small interface so the bridge can be driven
 * by a fake in unit tests (feed stanzas in, read what was sent; no socket).
 *
 * Resilience lives here: reconnection with exponential backoff (full jitter) after any loss of the
 * stream, XEP-0198 stream management on client streams when the server offers it (resumption is
 * reported as `online({ resumed: true })`: MUC occupancy survived, no rejoin needed), and one
 * try/catch per inbound stanza so a stanza that breaks a handler never takes the stream down.
 * IQ requests (get/set) go to `iqRequest`; whatever it returns becomes the RFC 6120 §8.2.3 reply
 * (a payload or `true`: result; an <error/>: error; undefined: service-unavailable).
 */
import { Logger } from '@nestjs/common';
import { component } from '@xmpp/component';
import { client, type XmppClient } from '@xmpp/client';
import type { XmppEntity } from '@xmpp/connection';
import { ErrorCode, errorMessage, GatewayError, PlatformError } from '../../../src/common/errors';
import { NS } from '../protocol/namespaces';
import { installSaslMechanisms } from './sasl-scram-sha1';
import { buildErrorElement } from '../protocol/stanzas';
import type { XmlElement } from '../protocol/xml';

export interface TransportHandlers {
  /** Every stanza except IQ requests. Runs inside the transport's per-stanza try/catch. */
  stanza(el: XmlElement): void;
  /**
   * An IQ get/set addressed to us: a payload (result), `true` (empty result), an <error/> element,
   * or undefined (service-unavailable).
   */
  iqRequest(el: XmlElement): Promise<XmlElement | true | undefined>;
  /** The stream is (again) authenticated. `resumed`: an XEP-0198 resumption kept the session. */
  online(event: { readonly resumed: boolean }): void;
  /** The stream was lost; the transport reconnects by itself. */
  offline(reason: string): void;
}

export interface XmppTransport {
  readonly kind: 'component' | 'client';
  /** The component domain, or the client's full JID; undefined before the first connection. */
  readonly address: string | undefined;
  readonly isOnline: boolean;
  /** XEP-0198 is enabled on the current (client) stream. */
  readonly streamManagement: boolean;
  /**
   * Connect and authenticate; resolves on the first `online`. Keeps retrying with backoff until
   * `timeoutMs`, then gives up.
   * @throws PlatformError PlatformUnavailable when the server cannot be reached in time
   */
  start(handlers: TransportHandlers, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
  /** @throws PlatformError PlatformUnavailable while offline */
  send(el: XmlElement): Promise<void>;
}

export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
}

const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 30_000 };

function isIqRequest(el: XmlElement): boolean {
  return el.name === 'iq' && (el.attrs.type === 'get' || el.attrs.type === 'set');
}

/** The transport over an xmpp.js entity (component or client). */
class XmppJsTransport implements XmppTransport {
  private readonly logger = new Logger(XmppJsTransport.name);
  private entity?: XmppEntity;
  private handlers?: TransportHandlers;
  private online = false;
  private stopped = false;
  private attempt = 0;
  private lastError?: string;
  private currentAddress?: string;

  constructor(
    readonly kind: 'component' | 'client',
    private readonly createEntity: () => XmppEntity,
    private readonly backoff: BackoffOptions = DEFAULT_BACKOFF,
  ) {}

  get address(): string | undefined {
    return this.currentAddress;
  }

  get isOnline(): boolean {
    return this.online;
  }

  get streamManagement(): boolean {
    const sm = (this.entity as Partial<XmppClient> | undefined)?.streamManagement;
    return sm?.enabled === true;
  }

  async start(handlers: TransportHandlers, timeoutMs: number): Promise<void> {
    this.handlers = handlers;
    this.stopped = false;
    const entity = this.createEntity();
    this.entity = entity;
    entity.reconnect.delay = this.backoff.initialMs;

    const firstOnline = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        entity.removeListener('online', onOnline);
        reject(
          new PlatformError(
            ErrorCode.PlatformUnavailable,
            `XMPP server not reachable within ${timeoutMs} ms${this.lastError ? `: ${this.lastError}` : ''}`,
          ),
        );
      }, timeoutMs);
      const onOnline = (): void => {
        clearTimeout(timer);
        resolve();
      };
      entity.once('online', onOnline);
    });

    entity.on('error', (e: unknown) => {
      this.lastError = errorMessage(e);
      this.logger.warn(`XMPP ${this.kind} stream error: ${this.lastError}`);
    });
    entity.on('online', (jid: { toString(): string }) => {
      this.online = true;
      this.attempt = 0;
      entity.reconnect.delay = this.backoff.initialMs;
      this.currentAddress = jid.toString();
      this.logger.log(`XMPP ${this.kind} online as ${this.currentAddress}`);
      this.safely('online', () => this.handlers?.online({ resumed: false }));
    });
    entity.on('nonza', (el: XmlElement) => {
      if (!el.is('resumed', NS.SM)) return;
      this.online = true;
      this.attempt = 0;
      entity.reconnect.delay = this.backoff.initialMs;
      this.logger.log(`XMPP ${this.kind} stream resumed (XEP-0198)`);
      this.safely('resumed', () => this.handlers?.online({ resumed: true }));
    });
    entity.on('disconnect', () => {
      // The reconnect plugin has already scheduled the next attempt with the current delay;
      // this sets the delay of the attempt after that.
      this.attempt += 1;
      const cap = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** this.attempt);
      entity.reconnect.delay = Math.max(this.backoff.initialMs, Math.round(Math.random() * cap));
      if (!this.online) return;
      this.online = false;
      if (this.stopped) return;
      this.logger.warn(`XMPP ${this.kind} stream lost; reconnecting`);
      this.safely('offline', () => this.handlers?.offline('stream lost'));
    });
    entity.on('stanza', (el: XmlElement) => {
      if (isIqRequest(el)) return;
      this.safely(`<${el.name} from='${el.attrs.from ?? ''}' id='${el.attrs.id ?? ''}'>`, () =>
        this.handlers?.stanza(el),
      );
    });
    entity.middleware.use(async (ctx, next) => {
      if (!isIqRequest(ctx.stanza)) return next();
      try {
        return (await this.handlers?.iqRequest(ctx.stanza)) ?? next();
      } catch (e) {
        this.logger.warn(
          `IQ ${ctx.stanza.attrs.id ?? ''} from ${ctx.stanza.attrs.from ?? ''} failed: ${errorMessage(e)}`,
        );
        return buildErrorElement('cancel', 'internal-server-error');
      }
    });

    entity.start().catch((e: unknown) => {
      // The reconnect plugin retries after the socket closes; start() only reports the first failure.
      this.lastError = errorMessage(e);
    });
    try {
      await firstOnline;
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const entity = this.entity;
    if (!entity) return;
    entity.reconnect.stop();
    this.online = false;
    try {
      await entity.stop();
    } catch (e) {
      this.logger.debug(`stopping the XMPP ${this.kind} stream: ${errorMessage(e)}`);
    }
    entity.removeAllListeners('online');
    entity.removeAllListeners('disconnect');
    entity.removeAllListeners('stanza');
    entity.removeAllListeners('nonza');
  }

  async send(el: XmlElement): Promise<void> {
    if (!this.online || !this.entity) {
      throw new PlatformError(ErrorCode.PlatformUnavailable, `XMPP ${this.kind} stream is offline`);
    }
    await this.entity.send(el);
  }

  private safely(what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      // A stanza we cannot read (CodecError) is the sender's problem; anything else is a bug of ours.
      if (e instanceof GatewayError) this.logger.warn(`dropped ${what}: ${e.message}`);
      else this.logger.error(`handling ${what} failed: ${errorMessage(e)}`, e instanceof Error ? e.stack : undefined);
    }
  }
}

/** An XEP-0114 component stream to `service` (xmpp://host:port) for `domain`. */
export function componentTransport(
  opts: { service: string; domain: string; secret: string },
  backoff?: BackoffOptions,
): XmppTransport {
  return new XmppJsTransport(
    'component',
    () => component({ service: opts.service, domain: opts.domain, password: opts.secret }),
    backoff,
  );
}

/** A client stream (relay mode) for `jid` with `password`; XEP-0198 resumption allowed. */
export function clientTransport(
  opts: { service: string; jid: string; password: string; resource?: string },
  backoff?: BackoffOptions,
): XmppTransport {
  const at = opts.jid.indexOf('@');
  const username = at === -1 ? undefined : opts.jid.slice(0, at);
  const domain = at === -1 ? opts.jid : opts.jid.slice(at + 1).split('/')[0];
  return new XmppJsTransport(
    'client',
    () => {
      const c = client({ service: opts.service, domain, username, password: opts.password, resource: opts.resource });
      installSaslMechanisms(c);
      c.streamManagement.allowResume = true;
      return c;
    },
    backoff,
  );
}
