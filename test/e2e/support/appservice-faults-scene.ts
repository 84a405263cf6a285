/**
 * The scene of the appservice fault tests (test/e2e/matrix-faults.e2e-spec.ts): a MatrixMimiEnv
 * with a FaultProxy between Synapse and A's appservice listener, alice in a linked room that B's
 * user Bob follows, and the readers the cases check their effect with: copies of a message in A's
 * and B's histories, posts on B's platform, the proxy's record of each transaction's answers,
 * A's `mimi_ingest_failed_total`.
 *
 *   const scene = await FaultsScene.create({ hubPostgresUrl });
 *   await scene.alice.sendText(scene.roomId, 'hi');
 *   await scene.expectOnceEverywhere(['hi'], 'label');
 *   await scene.dispose();
 */
import { randomUUID } from 'node:crypto';
import { request } from 'undici';
import type { InboundEvent } from '../../../src/ports';
import { legacyUserUri } from '../../../src/rooms/identity';
import type { StoredRoomEvent } from '../../support/e2e-clients';
import { MEMORY_PLATFORM } from '../../support/e2e-gateways';
import { waitFor } from '../../support/e2e-wait';
import type { FaultProxy, HttpExchange } from '../../support/fault-proxy';
import { type MatrixUserClient, putTransaction } from '../../servers/synapse/synapse-server';
import { FOLLOWER_DOMAIN, MatrixMimiEnv, type MatrixMimiEnvOptions } from './matrix-mimi-env';

const BOB_URI = legacyUserUri(FOLLOWER_DOMAIN, MEMORY_PLATFORM, '@bob:b.example');
const WAIT_MS = 90_000;
const TXN_PATH = '/_matrix/app/v1/transactions/';

/** Is this exchange an appservice transaction (`PUT /_matrix/app/v1/transactions/<id>`)? */
export const isTransaction = (x: HttpExchange): boolean => x.request.startsWith(`PUT ${TXN_PATH}`);

function storedText(e: StoredRoomEvent): string | undefined {
  const t = e.content?.['text'];
  return typeof t === 'string' ? t : undefined;
}

function postText(e: InboundEvent): string | undefined {
  return e.kind === 'message' && e.action.type === 'post' ? e.action.body.text : undefined;
}

/** How often each text is held by A, by B, and posted on B's platform. */
export interface Copies {
  readonly text: string;
  readonly a: number;
  readonly b: number;
  readonly posted: number;
}

export class FaultsScene {
  /** Unique per run, in every text the scene sends. */
  readonly run = randomUUID().slice(0, 8);

  private constructor(
    readonly env: MatrixMimiEnv,
    readonly proxy: FaultProxy,
    readonly alice: MatrixUserClient,
    readonly roomId: string,
    readonly roomUri: string,
  ) {}

  /** Start the environment (with the appservice proxy), link alice's room and have B follow it. */
  static async create(opts: Omit<MatrixMimiEnvOptions, 'appserviceProxy'> = {}): Promise<FaultsScene> {
    const env = await MatrixMimiEnv.create({ ...opts, appserviceProxy: true });
    try {
      const alice = await env.registerUser('alice');
      const { roomId, roomUri } = await env.createLinkedRoom(alice, 'Faults');
      await env.inviteRemote(alice, roomId, roomUri, BOB_URI);
      return new FaultsScene(env, env.appserviceProxy!, alice, roomId, roomUri);
    } catch (e) {
      await env.dispose();
      throw e;
    }
  }

  dispose(): Promise<void> {
    return this.env.dispose();
  }

  /** How many events of `text` gateway `g` holds in the room's history. */
  async copies(g: 'a' | 'b', text: string): Promise<number> {
    return (await this.env[g].provisioning.events(this.roomUri)).filter((x) => storedText(x) === text).length;
  }

  /** How many times `text` was posted on B's platform (the follower's fan-out, rendered). */
  async postsOnB(text: string): Promise<number> {
    return (await this.env.b.control.timeline(`mirror:${this.roomUri}`)).filter((t) => postText(t.event) === text)
      .length;
  }

  /**
   * Wait until each text reached B, then until a sentinel sent after them was posted on B's
   * platform (so any second copy would have arrived too); resolves with each text's copies.
   */
  async settledCopies(texts: readonly string[], label: string): Promise<Copies[]> {
    for (const text of texts) {
      await waitFor(async () => (await this.copies('b', text)) > 0, {
        timeoutMs: WAIT_MS,
        what: `"${text}" stored by B`,
      });
    }
    const sentinel = `sentinel after ${label} ${this.run}`;
    await this.alice.sendText(this.roomId, sentinel);
    await waitFor(async () => (await this.postsOnB(sentinel)) > 0, {
      timeoutMs: WAIT_MS,
      what: `"${sentinel}" posted on B`,
    });
    const out: Copies[] = [];
    for (const text of texts) {
      out.push({
        text,
        a: await this.copies('a', text),
        b: await this.copies('b', text),
        posted: await this.postsOnB(text),
      });
    }
    return out;
  }

  /** A crafted m.room.message of alice's, as Synapse would push it. */
  crafted(id: string, body: unknown): Record<string, unknown> {
    return {
      event_id: `$${id}-${this.run}`,
      room_id: this.roomId,
      sender: this.alice.userId,
      type: 'm.room.message',
      origin_server_ts: Date.now(),
      content: { msgtype: 'm.text', body },
      unsigned: {},
    };
  }

  /** A crafted transaction straight to A's appservice listener, with the right hs_token. */
  put(txnId: string, events: readonly unknown[]): ReturnType<typeof putTransaction> {
    return putTransaction(this.env.appserviceUrl, txnId, events, { header: `Bearer ${this.env.tokens.hsToken}` });
  }

  /** `mimi_ingest_failed_total{platform="matrix",retryable="true"}` on A's /metrics (0 when absent). */
  async ingestFailures(): Promise<number> {
    const res = await request(`${this.env.a.adminUrl}/metrics`);
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}: ${text}`);
    const m = /^mimi_ingest_failed_total\{platform="matrix",retryable="true"\} (\d+)$/m.exec(text);
    return m ? Number(m[1]) : 0;
  }

  /** The first appservice transaction Synapse sent through the proxy from exchange `from` on. */
  firstTransactionFrom(from: number): Promise<HttpExchange> {
    return waitFor(() => this.proxy.exchanges.slice(from).find(isTransaction), {
      timeoutMs: WAIT_MS,
      what: 'a transaction from Synapse',
    });
  }

  /** Every exchange of one transaction (same request line: same transaction ID), oldest first. */
  attemptsOf(txn: HttpExchange): HttpExchange[] {
    return this.proxy.exchanges.filter((x) => x.request === txn.request);
  }

  /** Wait until Synapse's retry of `txn` was answered 200 (it backs off 2 s, 4 s, 8 s … between tries). */
  async retriedWith200(txn: HttpExchange, timeoutMs = 120_000): Promise<void> {
    await waitFor(() => this.attemptsOf(txn).some((x) => x.status === 200 && !x.lost), {
      timeoutMs,
      what: `Synapse's retry of ${txn.request} answered 200`,
    });
  }
}
