/**
 * The Matrix side of an end-to-end environment, shared by matrix-mimi-env.ts and headline-env.ts:
 * a Synapse homeserver (scripts/synapse.sh: pinned version, SQLite, loopback) loading the
 * appservice registration written by OUR generator (`mimi-gateway generate-registration`, run as
 * a process on the gateway's config), and the gateway itself as a real `mimi-gateway start`
 * process whose config is the GatewayCluster's with a `matrix:` section added.
 *
 *   const m = await startMatrixGateway(cluster, 'a.example');   // Synapse started, gateway not yet
 *   await m.gateway.start();
 *   const { roomId, roomUri } = await linkMatrixRoom(alice, 'Lobby');
 *   ...
 *   await m.synapse.stop();
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import YAML from 'yaml';
import { MatrixIds } from '../../../bridges/matrix/matrix-ids';
import {
  type AppserviceRegistration,
  renderRegistrationYaml,
} from '../../../registration/generate-appservice-registration';
import { GatewayCluster, LOOPBACK, freePorts, repoRoot } from '../../support/e2e-gateways';
import type { ClientEvent, MatrixUserClient, SynapseServer } from '../../servers/synapse/synapse-server';
import { CliGatewayProcess, gatewayCliEntrypoint } from './cli-gateway-process';

const run = promisify(execFile);

/** The homeserver's server_name (matrix.domain in the gateway's config). */
const MATRIX_SERVER_NAME = 'synapse.test';
const GHOST_PREFIX = '_mimi_';
const BOT_LOCALPART = 'mimibot';
/** matrix.linkPowerLevel in the gateway's config. */
const LINK_POWER_LEVEL = 100;
const SYNAPSE_START_TIMEOUT_MS = 600_000;
const MATRIX_WAIT_MS = 60_000;

/** Ghost IDs, portal aliases and the bot of the gateway's `matrix:` section. */
export const MATRIX_IDS = new MatrixIds(GHOST_PREFIX, MATRIX_SERVER_NAME, BOT_LOCALPART);

/** A Synapse started by scripts/synapse.sh on a port chosen by the caller (the gateway's config names it first). */
async function startSynapseOn(opts: {
  readonly dir: string;
  readonly port: number;
  readonly registrationFile: string;
  readonly serverName: string;
  /** Extra environment for synapse.sh (SYNAPSE_RC_MESSAGE, SYNAPSE_OPEN_REGISTRATION, SYNAPSE_SHARED_SECRET). */
  readonly env?: Readonly<Record<string, string>>;
}): Promise<SynapseServer> {
  const script = join(repoRoot(), 'scripts', 'synapse.sh');
  mkdirSync(opts.dir, { recursive: true });
  const stop = async (): Promise<void> => {
    await run('bash', [script, 'stop', opts.dir]);
  };
  let stdout: string;
  try {
    ({ stdout } = await run('bash', [script, 'start', opts.dir, opts.registrationFile], {
      env: {
        ...process.env,
        ...opts.env,
        SYNAPSE_SERVER_NAME: opts.serverName,
        SYNAPSE_PORT: String(opts.port),
      },
      timeout: SYNAPSE_START_TIMEOUT_MS,
      maxBuffer: 16 * 1024 * 1024,
    }));
  } catch (e) {
    // The script may have died (a signal, the timeout) after Synapse, in its own session, started.
    await stop().catch(() => undefined);
    throw e;
  }
  const url = stdout.trim().split('\n').pop()!;
  if (url !== `http://${LOOPBACK}:${opts.port}`) {
    throw new Error(`synapse.sh printed ${url}, expected port ${opts.port}`);
  }
  return {
    url,
    dir: opts.dir,
    serverName: opts.serverName,
    sharedSecret: readFileSync(join(opts.dir, 'shared-secret'), 'utf8').trim(),
    stop,
  };
}

export interface MatrixGatewayOptions {
  /**
   * What Synapse loads instead of the generated registration (a misconfiguration under test, e.g. a
   * narrower user namespace or `rate_limited: true`); written next to it. Default: the file as generated.
   */
  readonly editRegistration?: (generated: AppserviceRegistration) => AppserviceRegistration;
  /** Extra environment for scripts/synapse.sh (SYNAPSE_RC_MESSAGE, SYNAPSE_OPEN_REGISTRATION). */
  readonly synapseEnv?: Readonly<Record<string, string>>;
  /**
   * Where Synapse sends appservice requests, when not straight to the gateway (a fault proxy in
   * between): the registration's `url` is rewritten to this loopback port.
   */
  readonly homeserverReachesPort?: number;
  /**
   * Where the gateway sends client-server API requests, when not straight to Synapse (a fault
   * proxy in between): `matrix.homeserverUrl` points at this loopback port.
   */
  readonly gatewayReachesPort?: number;
  /** The gateway's `database` section, when not the cluster's SQLite file (e.g. PostgreSQL). */
  readonly database?: Readonly<Record<string, unknown>>;
}

export interface MatrixGateway {
  /** `mimi-gateway start` with the `matrix:` section (not started yet). */
  readonly gateway: CliGatewayProcess;
  readonly synapse: SynapseServer;
  /** http://127.0.0.1:<port> where the appservice listens (the registration's url). */
  readonly appserviceUrl: string;
  readonly registrationFile: string;
  /** The registration file Synapse loads (registrationFile unless editRegistration changed it). */
  readonly synapseRegistrationFile: string;
  /** The appservice tokens file generate-registration created. */
  readonly tokensFile: string;
  /**
   * Start Synapse again after `synapse.stop()`: same folder, port, data, shared secret and options;
   * `registrationFile` replaces the one it loads (default: the same as before).
   */
  startSynapseAgain(registrationFile?: string): Promise<SynapseServer>;
}

/**
 * Write `<dir>/gateway-matrix.yaml` (the cluster's config for `domain` plus `matrix:`), run
 * `mimi-gateway generate-registration` on it and start Synapse with that registration. The
 * gateway process is returned unstarted; the caller stops Synapse (`synapse.stop()`).
 */
export async function startMatrixGateway(
  cluster: GatewayCluster,
  domain: string,
  opts: MatrixGatewayOptions = {},
): Promise<MatrixGateway> {
  const [synapsePort, appservicePort] = await freePorts(2);
  const dir = cluster.gateway(domain).dir;
  const adminPort = cluster.gateway(domain).ports.admin;
  const config = YAML.parse(readFileSync(cluster.gateway(domain).configFile, 'utf8')) as Record<string, unknown>;
  if (opts.database !== undefined) config['database'] = opts.database;
  config['matrix'] = {
    homeserverUrl: `http://${LOOPBACK}:${opts.gatewayReachesPort ?? synapsePort}`,
    domain: MATRIX_SERVER_NAME,
    appserviceHost: LOOPBACK,
    appservicePort,
    prefix: GHOST_PREFIX,
    botLocalpart: BOT_LOCALPART,
    tokensFile: 'matrix-tokens.yaml',
    linkPowerLevel: LINK_POWER_LEVEL,
  };
  const configFile = join(dir, 'gateway-matrix.yaml');
  writeFileSync(configFile, YAML.stringify(config));

  // The registration comes from our generator, run exactly as a newcomer would.
  const registrationFile = join(cluster.dir, 'mimi-registration.yaml');
  await run(process.execPath, [
    gatewayCliEntrypoint(),
    'generate-registration',
    '-c',
    configFile,
    '-o',
    registrationFile,
  ]);
  if (opts.homeserverReachesPort !== undefined) {
    const registration = YAML.parse(readFileSync(registrationFile, 'utf8')) as Record<string, unknown>;
    registration['url'] = `http://${LOOPBACK}:${opts.homeserverReachesPort}`;
    writeFileSync(registrationFile, YAML.stringify(registration), { mode: 0o600 });
  }
  let synapseRegistrationFile = registrationFile;
  if (opts.editRegistration !== undefined) {
    const generated = YAML.parse(readFileSync(registrationFile, 'utf8')) as AppserviceRegistration;
    synapseRegistrationFile = join(cluster.dir, 'synapse-registration.yaml');
    writeFileSync(synapseRegistrationFile, renderRegistrationYaml(opts.editRegistration(generated)), { mode: 0o600 });
  }
  const synapseOn = (file: string, env?: Record<string, string>): Promise<SynapseServer> =>
    startSynapseOn({
      dir: join(cluster.dir, 'synapse'),
      port: synapsePort!,
      registrationFile: file,
      serverName: MATRIX_SERVER_NAME,
      env: { ...opts.synapseEnv, ...env },
    });
  const synapse = await synapseOn(synapseRegistrationFile);
  const gateway = new CliGatewayProcess({
    domain,
    dir,
    configFile,
    adminUrl: `http://${LOOPBACK}:${adminPort}`,
    adminToken: readFileSync(join(dir, 'admin.token'), 'utf8').trim(),
  });
  return {
    gateway,
    synapse,
    appserviceUrl: `http://${LOOPBACK}:${appservicePort}`,
    registrationFile,
    synapseRegistrationFile,
    tokensFile: join(dir, 'matrix-tokens.yaml'),
    startSynapseAgain: (file = synapseRegistrationFile) =>
      synapseOn(file, { SYNAPSE_SHARED_SECRET: synapse.sharedSecret }),
  };
}

export interface LinkedRoom {
  /** The Matrix room ID. */
  readonly roomId: string;
  readonly roomUri: string;
  /** The bot's answer to `!mimi link`. */
  readonly linkNotice: ClientEvent;
}

/**
 * `admin` creates a private room (or `preset`) with the bridge bot invited at power level 100 (so that it can
 * carry out kicks and role changes), waits for the bot to join, and links the room with
 * `!mimi link`. Resolves with the room URI from the bot's answer.
 */
export async function linkMatrixRoom(
  admin: MatrixUserClient,
  name: string,
  opts: { invite?: readonly string[]; preset?: 'private_chat' | 'public_chat' } = {},
): Promise<LinkedRoom> {
  const bot = MATRIX_IDS.botUserId;
  const roomId = await admin.createRoom({
    name,
    preset: opts.preset ?? 'private_chat',
    invite: [bot, ...(opts.invite ?? [])],
    // Room version 12 (Synapse's default): the creator has unlimited power and must not be listed.
    power_level_content_override: { users: { [bot]: 100 } },
  });
  await admin.waitForEvent(
    (e) =>
      e.room_id === roomId && e.type === 'm.room.member' && e.state_key === bot && e.content['membership'] === 'join',
    MATRIX_WAIT_MS,
  );
  const command = await admin.sendText(roomId, '!mimi link');
  const linkNotice = await admin.waitForEvent((e) => isNoticeReplyTo(e, roomId, bot, command), MATRIX_WAIT_MS);
  const roomUri = /mimi:\/\/[a-z0-9.-]+\/r\/[0-9a-f]+/.exec(String(linkNotice.content['body']))?.[0];
  if (roomUri === undefined) throw new Error(`no room URI in the link answer: ${String(linkNotice.content['body'])}`);
  return { roomId, roomUri, linkNotice };
}

/** An m.notice of `sender` in `roomId` that replies to `eventId` (the bot's command answers, failure notices). */
export function isNoticeReplyTo(e: ClientEvent, roomId: string, sender: string, eventId: string): boolean {
  const relates = e.content['m.relates_to'] as { 'm.in_reply_to'?: { event_id?: string } } | undefined;
  return (
    e.room_id === roomId &&
    e.sender === sender &&
    e.content['msgtype'] === 'm.notice' &&
    relates?.['m.in_reply_to']?.event_id === eventId
  );
}
