/**
 * The headline path, everything real (issue 13): people on Matrix and people on XMPP, each in
 * their own client, in one conversation through MIMI.
 *
 * - a Synapse homeserver and a Prosody, both on loopback ports (scripts/synapse.sh and
 *   test/servers/prosody; installed when missing);
 * - gateway A: `mimi-gateway start` with a `matrix:` section (appservice registered with that
 *   Synapse, registration from our generator);
 * - gateway B: `mimi-gateway start` with an `xmpp:` section (component mode on that Prosody);
 * - A and B talk MIMI over mutual TLS with a development CA generated at start (GatewayCluster).
 *
 * Matrix users act through the client-server API (MatrixUserClient), XMPP users through a real
 * c2s login on the Prosody (XmppTestUser). Both directions:
 *
 *   const env = await HeadlineEnv.create({ xmppAccounts: [BOB] });
 *   const alice = await env.registerMatrixUser('alice');
 *   const bob = await env.connectXmpp(BOB);
 *   // a Matrix room hubbed by A, mirrored into a MUC by B
 *   const { roomId, roomUri } = await env.linkMatrixRoom(alice, 'Lobby');
 *   const mirrorMuc = await env.inviteXmppUser(alice, roomId, roomUri, bob.jid);
 *   // a MUC hubbed by B, mirrored into a Matrix room by A
 *   const hubUri = await env.linkMuc(bob, muc, 'bob');
 *   const mirrorRoom = await env.inviteMatrixUser(bob, muc, hubUri, alice.userId);
 *   await env.dispose();
 *
 * Used by test/e2e/headline.e2e-spec.ts and by the demo (test/demo/demo.ts, `npm run demo`).
 * Needs a build first (`npx nest build`): both gateways run compiled code.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Platform, type UserUri } from '../../../src/common/ids';
import { legacyUserUri } from '../../../src/rooms/identity';
import { PROSODY_MUC_DOMAIN, type ProsodyAccount, ProsodyServer } from '../../servers/prosody/prosody-server';
import { XmppTestUser } from '../../servers/prosody/xmpp-test-user';
import { type MatrixUserClient, type SynapseServer, registerUser } from '../../servers/synapse/synapse-server';
import { GatewayCluster, tailFile } from '../../support/e2e-gateways';
import { waitFor, waitForValue, withFailureContext } from '../../support/e2e-wait';
import type { CliGatewayProcess } from './cli-gateway-process';
import { type LinkedRoom, MATRIX_IDS, linkMatrixRoom, startMatrixGateway } from './matrix-gateway';
import { XmppGatewayProcess } from './xmpp-gateway-process';
import { BOT_JID, BOT_NICK, COMPONENT_DOMAIN, invitePuppet } from './xmpp-mimi-env';

/** The homeserver's server_name (Matrix user IDs of A's users end in it). */
const MATRIX_SERVER_NAME = 'synapse.test';
/** The Prosody's user domain (bob@localhost). */
const PROSODY_USER_DOMAIN = 'localhost';

/** Gateway A: the Matrix side. */
export const MATRIX_GATEWAY = 'a.example';
/** Gateway B: the XMPP side. */
export const XMPP_GATEWAY = 'b.example';
const WAIT_MS = 60_000;
const LOG_TAIL_LINES = 60;

export interface HeadlineEnvOptions {
  /** Prosody accounts of the XMPP users. */
  readonly xmppAccounts: readonly ProsodyAccount[];
  readonly logLevel?: 'error' | 'warn' | 'log' | 'debug' | 'verbose';
  /** Keep the temp dirs after dispose (also when MIMI_E2E_KEEP=1). */
  readonly keepDir?: boolean;
  /** More providers, each a memory gateway process (test/support/memory-gateway.ts), e.g. ['c.example']. */
  readonly memoryGateways?: readonly string[];
}

/** A process of the environment, for "nothing left running" checks. */
export interface EnvProcess {
  readonly name: string;
  readonly pid: number;
}

export class HeadlineEnv {
  readonly ids = MATRIX_IDS;
  private readonly xmppUsers: XmppTestUser[] = [];
  private disposed = false;

  private constructor(
    readonly cluster: GatewayCluster,
    readonly synapse: SynapseServer,
    readonly prosody: ProsodyServer,
    /** Gateway A: `mimi-gateway start` with the Matrix bridge. */
    readonly a: CliGatewayProcess,
    /** Gateway B: `mimi-gateway start` with the XMPP bridge (component mode). */
    readonly b: XmppGatewayProcess,
    private readonly opts: HeadlineEnvOptions,
  ) {}

  /** Start Synapse and Prosody (in parallel), then gateways A and B. */
  static async create(opts: HeadlineEnvOptions): Promise<HeadlineEnv> {
    const memory = opts.memoryGateways ?? [];
    const cluster = await GatewayCluster.create({
      domains: [MATRIX_GATEWAY, XMPP_GATEWAY, ...memory],
      // Invites by address: synapse.test users are A's, localhost JIDs B's (peers[].addressDomains).
      addressDomains: { [MATRIX_GATEWAY]: [MATRIX_SERVER_NAME], [XMPP_GATEWAY]: [PROSODY_USER_DOMAIN] },
      logLevel: opts.logLevel,
      keepDir: opts.keepDir,
    });
    const started = await Promise.allSettled([
      startMatrixGateway(cluster, MATRIX_GATEWAY),
      ProsodyServer.start({ componentDomain: COMPONENT_DOMAIN, accounts: opts.xmppAccounts }),
    ]);
    const [matrix, prosody] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined)) as [
      Awaited<ReturnType<typeof startMatrixGateway>> | undefined,
      ProsodyServer | undefined,
    ];
    let b: XmppGatewayProcess | undefined;
    const cleanUp = async (): Promise<void> => {
      for (const g of [matrix?.gateway, b]) if (g?.running) await g.kill().catch(() => undefined);
      await matrix?.synapse.stop().catch(() => undefined);
      await prosody?.stop().catch(() => undefined);
      await cluster.dispose();
      if (!keep(opts)) rmSync(cluster.dir, { recursive: true, force: true });
    };
    try {
      const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) throw failed.reason;
      b = XmppGatewayProcess.create(
        cluster,
        XMPP_GATEWAY,
        {
          mode: 'component',
          service: prosody!.componentService,
          componentDomain: COMPONENT_DOMAIN,
          botNick: BOT_NICK,
          links: [],
          mucService: PROSODY_MUC_DOMAIN,
          httpUpload: prosody!.httpUpload,
        },
        prosody!.componentSecret,
      );
      const gateways = await Promise.allSettled([
        matrix!.gateway.start(),
        b.start(),
        ...memory.map((d) => cluster.gateway(d).start()),
      ]);
      const down = gateways.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (down) throw down.reason;
      return new HeadlineEnv(cluster, matrix!.synapse, prosody!, matrix!.gateway, b, opts);
    } catch (e) {
      await cleanUp();
      throw e;
    }
  }

  /** The MIMI URI gateway A gives a Matrix user. */
  matrixUserUri(mxid: string): UserUri {
    return legacyUserUri(MATRIX_GATEWAY, Platform.Matrix, mxid);
  }

  /** The MIMI URI gateway B gives an XMPP user (bare JID). */
  xmppUserUri(jid: string): UserUri {
    return legacyUserUri(XMPP_GATEWAY, Platform.Xmpp, jid);
  }

  /** The Matrix ghost of an XMPP user of B. */
  ghostOfXmppUser(jid: string): string {
    return this.ids.ghostUserId(this.xmppUserUri(jid))!;
  }

  /** A Matrix user registered through Synapse's shared-secret admin API (password `pw-<localpart>-secret`). */
  registerMatrixUser(localpart: string): Promise<MatrixUserClient> {
    return registerUser(this.synapse, localpart);
  }

  /** A real c2s login on the Prosody; it is logged out on dispose. */
  async connectXmpp(account: ProsodyAccount): Promise<XmppTestUser> {
    const user = await XmppTestUser.connect(this.prosody.c2sService, account.username, account.password);
    this.xmppUsers.push(user);
    return user;
  }

  // ---- a Matrix room hubbed by A, mirrored into a MUC by B ------------------------------------

  /** `admin` creates a Matrix room and links it with `!mimi link` (A becomes its hub). */
  linkMatrixRoom(
    admin: MatrixUserClient,
    name: string,
    opts: { invite?: readonly string[] } = {},
  ): Promise<LinkedRoom> {
    return linkMatrixRoom(admin, name, opts);
  }

  /**
   * `inviter` invites the ghost of the XMPP user `jid` into the Matrix room; resolves with the
   * MUC where B mirrors the room, once B follows it with that user and the ghost has joined.
   */
  async inviteXmppUser(inviter: MatrixUserClient, roomId: string, roomUri: string, jid: string): Promise<string> {
    const user = this.xmppUserUri(jid);
    const ghost = this.ghostOfXmppUser(jid);
    await inviter.invite(roomId, ghost);
    const followed = await waitForValue(
      () => this.b.provisioning.room(roomUri),
      (r) => r !== undefined && r.participants.some((p) => p.userUri === user),
      { timeoutMs: WAIT_MS, what: `B following ${roomUri} with ${user}` },
    );
    await inviter.waitForEvent(
      (e) =>
        e.room_id === roomId &&
        e.type === 'm.room.member' &&
        e.state_key === ghost &&
        e.content['membership'] === 'join',
      WAIT_MS,
    );
    return followed!.roomId;
  }

  // ---- a MUC hubbed by B, mirrored into a Matrix room by A ------------------------------------

  /**
   * `owner` creates the MUC, makes the component's bot an owner (to moderate and see real JIDs)
   * and B links it through its provisioning API; resolves with the room URI.
   */
  async linkMuc(owner: XmppTestUser, muc: string, nick: string): Promise<string> {
    await owner.createRoom(muc, nick);
    await owner.setAffiliation(muc, BOT_JID, 'owner');
    return this.b.provisioning.linkRoom(Platform.Xmpp, muc);
  }

  /**
   * `inviter` invites the puppet JID of the Matrix user `mxid` through the MUC (XEP-0045 §7.8.2);
   * resolves with the Matrix room where A mirrors the MUC, once A follows it with that user.
   */
  async inviteMatrixUser(inviter: XmppTestUser, muc: string, roomUri: string, mxid: string): Promise<string> {
    const user = this.matrixUserUri(mxid);
    await invitePuppet(inviter, muc, user);
    const followed = await waitForValue(
      () => this.a.provisioning.room(roomUri),
      (r) => r !== undefined && r.participants.some((p) => p.userUri === user),
      { timeoutMs: WAIT_MS, what: `A following ${roomUri} with ${user}` },
    );
    return followed!.roomId;
  }

  /** Wait until B's view of `roomUri` is at A's epoch (before a change staged by the follower). */
  async epochsSettled(roomUri: string): Promise<void> {
    await waitFor(
      async () => {
        const [onA, onB] = await Promise.all([this.a.provisioning.room(roomUri), this.b.provisioning.room(roomUri)]);
        return onA !== undefined && onB !== undefined && Number(onA.epoch) === Number(onB.epoch);
      },
      { timeoutMs: WAIT_MS, what: `A and B at the same epoch of ${roomUri}` },
    );
  }

  /** The processes this environment started (for "nothing left running" checks). */
  processes(): EnvProcess[] {
    const out: EnvProcess[] = [];
    const add = (name: string, pid: number | undefined): void => {
      if (pid !== undefined && Number.isInteger(pid)) out.push({ name, pid });
    };
    add(`gateway ${MATRIX_GATEWAY}`, this.a.pid);
    add(`gateway ${XMPP_GATEWAY}`, this.b.pid);
    for (const d of this.opts.memoryGateways ?? []) add(`gateway ${d}`, this.cluster.gateway(d).pid);
    add('prosody', this.prosody.pid);
    try {
      // scripts/synapse.sh: the pid of the Synapse it started in its own session.
      add('synapse', Number(readFileSync(join(this.synapse.dir, 'launcher.pid'), 'utf8').trim()));
    } catch {
      // not written: not started by synapse.sh
    }
    return out;
  }

  /** The tails of both gateways', Synapse's and Prosody's logs, for a failure report. */
  logTails(lines = LOG_TAIL_LINES): string {
    return [
      `--- ${MATRIX_GATEWAY} (Matrix) log tail (${this.a.logFile}) ---\n${this.a.logTail(lines)}`,
      `--- ${XMPP_GATEWAY} (XMPP) log tail (${this.b.logFile}) ---\n${this.b.logTail(lines)}`,
      ...(this.opts.memoryGateways ?? []).map(
        (d) => `--- ${d} (memory) log tail ---\n${this.cluster.gateway(d).logTail(lines)}`,
      ),
      `--- synapse log tail ---\n${tailFile(join(this.synapse.dir, 'homeserver.log'), lines)}`,
      `--- prosody ---\n${this.prosody.tail(lines)}`,
    ].join('\n');
  }

  /** A test body that, when it fails, carries the log tails. */
  scenario(body: () => Promise<void>): () => Promise<void> {
    return withFailureContext(body, () => this.logTails());
  }

  /**
   * Stop the gateways first (so that nothing more is bridged), then log the XMPP users out, stop
   * Synapse and Prosody, and remove the temp dirs unless asked to keep them.
   */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await Promise.all(
      [this.a, this.b].filter((g) => g.running).map((g) => g.stop().catch(() => (g.running ? g.kill() : undefined))),
    );
    for (const u of this.xmppUsers) await u.stop();
    await this.synapse.stop().catch(() => undefined);
    if (keep(this.opts)) await this.prosody.halt();
    else await this.prosody.stop();
    await this.cluster.dispose();
    if (!keep(this.opts)) rmSync(this.cluster.dir, { recursive: true, force: true });
  }
}

function keep(opts: HeadlineEnvOptions): boolean {
  return opts.keepDir === true || process.env.MIMI_E2E_KEEP === '1';
}

/**
 * A test body for an environment made in `beforeAll` (`get` returns it, undefined when that
 * failed): it runs with the environment, and a failure carries the log tails.
 */
export function envScenario(
  get: () => HeadlineEnv | undefined,
): (body: (e: HeadlineEnv) => Promise<void>) => () => Promise<void> {
  return (body) => async () => {
    const e = get();
    if (!e) throw new Error('the environment was not created (see the beforeAll error)');
    await e.scenario(() => body(e))();
  };
}
