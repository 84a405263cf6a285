/**
 * IQ request/response (RFC 6120 §8.2.3): each request waits for the result or error with its id,
 * or times out. Errors come back as XmppStanzaError.
 */
import { randomUUID } from 'node:crypto';
import { ErrorCode, PlatformError } from '../../../src/common/errors';
import { parseStanzaError } from '../protocol/stanzas';
import type { XmlElement } from '../protocol/xml';
import { type Deferred, deferred } from '../../kit/post-guard';
import { XmppStanzaError } from './stanza-error';
import type { XmppTransport } from './xmpp-transport';

interface PendingIq {
  readonly done: Deferred<XmlElement>;
  readonly timer: NodeJS.Timeout;
}

export class IqClient {
  private readonly pending = new Map<string, PendingIq>();

  constructor(
    private readonly transport: XmppTransport,
    private readonly defaultTimeoutMs: number,
  ) {}

  /**
   * Send an IQ get/set and wait for its answer.
   * @throws XmppStanzaError when the answer is an error; PlatformError Timeout after `timeoutMs`
   */
  request(el: XmlElement, timeoutMs = this.defaultTimeoutMs): Promise<XmlElement> {
    const id = el.attrs.id ?? randomUUID();
    el.attrs.id = id;
    const done = deferred<XmlElement>();
    const timer = setTimeout(() => {
      this.pending.delete(id);
      done.reject(
        new PlatformError(ErrorCode.Timeout, `no answer to IQ ${id} from ${el.attrs.to ?? ''} in ${timeoutMs} ms`),
      );
    }, timeoutMs);
    timer.unref();
    this.pending.set(id, { done, timer });
    this.transport.send(el).catch((e: unknown) => {
      clearTimeout(timer);
      this.pending.delete(id);
      done.reject(e);
    });
    return done.promise;
  }

  /** An IQ result or error from the stream; ignored when it answers none of our requests. */
  onResponse(el: XmlElement): void {
    const id = el.attrs.id;
    const pending = id !== undefined ? this.pending.get(id) : undefined;
    if (!pending || id === undefined) return;
    this.pending.delete(id);
    clearTimeout(pending.timer);
    const error = parseStanzaError(el);
    if (error) pending.done.reject(new XmppStanzaError(error, `IQ to ${el.attrs.from ?? ''}`));
    else pending.done.resolve(el);
  }

  /** Every request still waiting fails with `error` (the stream is gone). */
  failAll(error: PlatformError): void {
    for (const q of this.pending.values()) {
      clearTimeout(q.timer);
      q.done.reject(error);
    }
    this.pending.clear();
  }
}
