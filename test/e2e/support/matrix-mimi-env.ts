/**
 * Everything real for the Matrix ↔ MIMI end-to-end tests and bench (issue 4 "Done means"):
 *
 * - a Synapse homeserver (scripts/synapse.sh: pinned version, SQLite, loopback) started here,
 *   loading the appservice registration written by OUR generator (`mimi-gateway
 *   generate-registration`, run as a process on gateway A's config);
 * - gateway A (the hub) as a real `mimi-gateway start -c <config>` process whose config has a
 *   `matrix:` section pointing at that Synapse (CliGatewayProcess);
 * - follower gateway B as a memory-platform gateway process of the multi-process harness
 *   (test/support/e2e-gateways.ts);
 * - mutual TLS between A and B with a development CA and certificates generated at start (the
 *   harness's PKI; A's config is the harness's with the `matrix` section added).
 *
 *   const env = await MatrixMimiEnv.create();
 *   const alice = await env.registerUser('alice');
 *   const { roomId, roomUri } = await env.createLinkedRoom(alice, 'Lobby');
 *   await env.inviteRemote(alice, roomId, roomUri, BOB_URI);
 *   ...
 *   await env.dispose();
 *
 * Needs a build first (`npx tsc -p tsconfig.build.json`): both gateways run compiled code.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { MatrixIds } from '../../../bridges/matrix/matrix-ids';
import { type MatrixTokens, readMatrixTokens } from '../../../registration/matrix-tokens';
import type { UserUri } from '../../../src/common/ids';
import type { OutboxTuning } from '../../support/e2e-gateways';
import { GatewayCluster, GatewayProcess, LOOPBACK, tailFile } from '../../support/e2e-gateways';
import { FaultProxy } from '../../support/fault-proxy';
import { waitFor, waitForValue, withFailureContext } from '../../support/e2e-wait';
import { type MatrixUserClient, type SynapseServer, registerUser } from '../../servers/synapse/synapse-server';
import { CliGatewayProcess } from './cli-gateway-process';
import {
  type LinkedRoom,
  MATRIX_IDS,
  type MatrixGateway,
  type MatrixGatewayOptions,
  linkMatrixRoom,
  startMatrixGateway,
} from './matrix-gateway';

export const HUB_DOMAIN = 'a.example';
export const FOLLOWER_DOMAIN = 'b.example';
const LOG_TAIL_LINES = 60;

export interface MatrixMimiEnvOptions {
  readonly logLevel?: 'error' | 'warn' | 'log' | 'debug' | 'verbose';
  readonly outbox?: OutboxTuning;
  /** Keep the temp dir after dispose (also when MIMI_E2E_KEEP=1). */
  readonly keepDir?: boolean;
  /** How Synapse is set up for A (an edited registration, rate limits, open registration). */
  readonly matrix?: MatrixGatewayOptions;
  /** Put a FaultProxy between Synapse and A's appservice listener (`env.appserviceProxy`). */
  readonly appserviceProxy?: boolean;
  /** Put a FaultProxy between A and Synapse's client-server API (`env.homeserverProxy`). */
  readonly homeserverProxy?: boolean;
  /** A (the hub) on this PostgreSQL database instead of its SQLite file. */
  readonly hubPostgresUrl?: string;
}

export class MatrixMimiEnv {
  readonly ids: MatrixIds = MATRIX_IDS;
  private disposed = false;

  private constructor(
    readonly cluster: GatewayCluster,
    readonly a: CliGatewayProcess,
    readonly b: GatewayProcess,
    private readonly matrix: MatrixGateway,
    private readonly opts: MatrixMimiEnvOptions,
    /** Between Synapse and A's appservice listener, when asked for (options.appserviceProxy). */
    readonly appserviceProxy: FaultProxy | undefined,
    /** Between A and Synapse's client-server API, when asked for (options.homeserverProxy). */
    readonly homeserverProxy?: FaultProxy,
  ) {}

  get synapse(): SynapseServer {
    return this.matrix.synapse;
  }

  /** http://127.0.0.1:<port> where A's appservice listens (the registration's url). */
  get appserviceUrl(): string {
    return this.matrix.appserviceUrl;
  }

  /** The registration generate-registration wrote. */
  get registrationFile(): string {
    return this.matrix.registrationFile;
  }

  /** The registration Synapse loads (an edit of registrationFile when `matrix.editRegistration` was given). */
  get synapseRegistrationFile(): string {
    return this.matrix.synapseRegistrationFile;
  }

  /** Start Synapse again after `synapse.stop()` (same data and port), loading `registrationFile` if given. */
  async startSynapseAgain(registrationFile?: string): Promise<void> {
    await this.matrix.startSynapseAgain(registrationFile);
  }

  /**
   * Generate the PKI and configs, run `mimi-gateway generate-registration` on A's config, start
   * Synapse with that registration, then start A (`mimi-gateway start`) and B.
   */
  static async create(opts: MatrixMimiEnvOptions = {}): Promise<MatrixMimiEnv> {
    const cluster = await GatewayCluster.create({
      domains: [HUB_DOMAIN, FOLLOWER_DOMAIN],
      logLevel: opts.logLevel,
      outbox: opts.outbox,
      keepDir: opts.keepDir,
    });
    let synapse: SynapseServer | undefined;
    let a: CliGatewayProcess | undefined;
    let appservicePort: number | undefined;
    const proxy = opts.appserviceProxy
      ? await FaultProxy.start({
          target: () => ({ host: LOOPBACK, port: appservicePort! }),
          label: 'synapse→appservice',
        })
      : undefined;
    const toSynapse = opts.homeserverProxy
      ? await FaultProxy.start({
          target: () => ({ host: LOOPBACK, port: Number(new URL(synapse!.url).port) }),
          label: 'A→synapse',
        })
      : undefined;
    try {
      const matrix = await startMatrixGateway(cluster, HUB_DOMAIN, {
        ...opts.matrix,
        homeserverReachesPort: proxy?.port,
        gatewayReachesPort: toSynapse?.port,
        ...(opts.hubPostgresUrl !== undefined ? { database: { type: 'postgres', url: opts.hubPostgresUrl } } : {}),
      });
      appservicePort = Number(new URL(matrix.appserviceUrl).port);
      synapse = matrix.synapse;
      a = matrix.gateway;
      const b = cluster.gateway(FOLLOWER_DOMAIN);
      await Promise.all([a.start(), b.start()]);
      return new MatrixMimiEnv(cluster, a, b, matrix, opts, proxy, toSynapse);
    } catch (e) {
      if (a?.running) await a.kill().catch(() => undefined);
      await synapse?.stop().catch(() => undefined);
      await proxy?.close();
      await toSynapse?.close();
      await cluster.dispose();
      throw e;
    }
  }

  /** The appservice tokens A runs with (as generate-registration created them). */
  get tokens(): MatrixTokens {
    return readMatrixTokens(this.matrix.tokensFile);
  }

  get botUserId(): string {
    return this.ids.botUserId;
  }

  /** The Matrix ghost of a MIMI user. */
  ghostOf(userUri: UserUri | string): string {
    const ghost = this.ids.ghostUserId(userUri);
    if (ghost === undefined) throw new Error(`no ghost for ${userUri}`);
    return ghost;
  }

  /** A Matrix user registered through Synapse's shared-secret admin API, acting through the client-server API. */
  registerUser(localpart: string): Promise<MatrixUserClient> {
    return registerUser(this.synapse, localpart);
  }

  /**
   * `admin` creates a private room with the bridge bot invited at power level 100 (so that it can
   * carry out kicks and role changes), waits for the bot to join, and links the room with
   * `!mimi link`. Resolves with the room URI from the bot's answer.
   */
  createLinkedRoom(admin: MatrixUserClient, name: string): Promise<LinkedRoom> {
    return linkMatrixRoom(admin, name);
  }

  /**
   * `inviter` invites the ghost of the MIMI user `user` (a user of B) through the client-server
   * API; resolves once A lists the user as a participant, B follows the room with that user,
   * and the ghost has joined the Matrix room.
   */
  async inviteRemote(inviter: MatrixUserClient, roomId: string, roomUri: string, user: UserUri): Promise<void> {
    const ghost = this.ghostOf(user);
    await inviter.invite(roomId, ghost);
    await waitFor(async () => (await this.a.provisioning.room(roomUri))?.participants.some((p) => p.userUri === user), {
      timeoutMs: 60_000,
      what: `${user} a participant on A`,
    });
    await waitForValue(
      () => this.b.provisioning.room(roomUri),
      (r) => r !== undefined && r.participants.some((p) => p.userUri === user),
      { timeoutMs: 60_000, what: `B following ${roomUri} with ${user}` },
    );
    await inviter.waitForEvent(
      (e) =>
        e.room_id === roomId &&
        e.type === 'm.room.member' &&
        e.state_key === ghost &&
        e.content['membership'] === 'join',
      60_000,
    );
  }

  /** The tails of A's, B's and Synapse's logs, for a failure report. */
  logTails(lines = LOG_TAIL_LINES): string {
    return [
      `--- ${HUB_DOMAIN} (mimi-gateway start) log tail (${this.a.logFile}) ---\n${this.a.logTail(lines)}`,
      `--- ${FOLLOWER_DOMAIN} log tail (${this.b.logFile}) ---\n${this.b.logTail(lines)}`,
      `--- synapse log tail ---\n${tailFile(join(this.synapse.dir, 'homeserver.log'), lines)}`,
    ].join('\n');
  }

  /** A test body that, when it fails, carries the log tails. */
  scenario(body: () => Promise<void>): () => Promise<void> {
    return withFailureContext(body, () => this.logTails());
  }

  /** Stop A, B and Synapse; remove the temp dir unless keepDir / MIMI_E2E_KEEP=1. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (this.a.running) await this.a.stop().catch(() => (this.a.running ? this.a.kill() : undefined));
    await this.synapse.stop().catch(() => undefined);
    await this.appserviceProxy?.close();
    await this.homeserverProxy?.close();
    // The cluster removes its temp dir (Synapse's dir is inside it) unless asked to keep it.
    await this.cluster.dispose();
    if (!(this.opts.keepDir || process.env.MIMI_E2E_KEEP === '1')) {
      rmSync(this.cluster.dir, { recursive: true, force: true });
    }
  }
}

/**
 * A test body for an environment created in `beforeAll`: fails clearly when it was not created,
 * and when the body fails, the error carries the log tails (`env.scenario`).
 *   it('…', withMatrixMimiEnv(() => env, async (e) => { … }));
 */
export function withMatrixMimiEnv(
  get: () => MatrixMimiEnv | undefined,
  body: (env: MatrixMimiEnv) => Promise<void>,
): () => Promise<void> {
  return async () => {
    const env = get();
    if (!env) throw new Error('the environment was not created (see the beforeAll error)');
    await env.scenario(() => body(env))();
  };
}
