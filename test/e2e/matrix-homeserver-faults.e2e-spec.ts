/**
 * RELIABILITY T10, T11 and T12 with everything real: a Synapse that rate-limits messages and lets
 * anyone register, gateway A (`mimi-gateway start`, the Matrix hub) and follower gateway B (memory
 * platform) (test/e2e/support/matrix-mimi-env.ts). Synapse loads our generated registration with
 * two changes, the misconfiguration under test:
 *
 * - `rate_limited: true` (ours says false), so the ghosts' sends meet `rc_message` (T12);
 * - its user namespace leaves out the ghost of ONE MIMI user, the outsider, so that acting as that
 *   ghost is acting outside the namespace (T11): the homeserver refuses to register it
 *   (`M_EXCLUSIVE`) and to let the appservice masquerade as it.
 *
 * The tests run in order on one room. T10 comes last: it stops Synapse and restarts A while
 * Synapse is down. Needs a build first: `npx nest build`.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { escapeRegex } from '../../registration/generate-appservice-registration';
import type { UserUri } from '../../src/common/ids';
import { legacyUserUri } from '../../src/rooms/identity';
import type { NativeUser } from '../support/e2e-clients';
import { MEMORY_PLATFORM } from '../support/e2e-gateways';
import { waitFor } from '../support/e2e-wait';
import { type ClientEvent, type MatrixUserClient, registerUser } from '../servers/synapse/synapse-server';
import { MATRIX_IDS } from './support/matrix-gateway';
import { FOLLOWER_DOMAIN, MatrixMimiEnv, withMatrixMimiEnv } from './support/matrix-mimi-env';

const B = FOLLOWER_DOMAIN;
const RUN = randomUUID().slice(0, 8);
const BOB: NativeUser = { userId: '@bob:b.example', displayName: 'Bob' };
const BOB_URI = legacyUserUri(B, MEMORY_PLATFORM, BOB.userId);
/** A user of B whose ghost Synapse's copy of the registration leaves out of the namespace. */
const OUTSIDER: NativeUser = { userId: '@outsider:b.example', displayName: 'Olga Outsider' };
const OUTSIDER_URI = legacyUserUri(B, MEMORY_PLATFORM, OUTSIDER.userId);
const OUTSIDER_GHOST = MATRIX_IDS.ghostUserId(OUTSIDER_URI)!;
/** Synapse's rc_message: a burst of 2, then one message every 2 s per user. */
const RC_MESSAGE = '{per_second: 0.5, burst_count: 2}';
/** Synapse's log line for its refusal to register a ghost outside the namespace (400 M_EXCLUSIVE). */
const REFUSAL = 'SynapseError: 400 - Invalid user localpart for this application service';
const BURST = Array.from({ length: 8 }, (_, i) => `burst ${i + 1} of 8 ${RUN}`);

const SETUP_TIMEOUT_MS = 600_000;
const STEP_TIMEOUT_MS = 300_000;
const WAIT_MS = 60_000;
/** The start-up ping backs off up to 60 s between attempts. */
const PING_WAIT_MS = 150_000;

/** Lines of a log file that contain `needle`. */
function linesWith(file: string, needle: string): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.includes(needle));
}

/** A client-server API call without an access token (a human at the registration form). */
async function anonymous(
  baseUrl: string,
  method: string,
  path: string,
  body: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

/** GET the gateway's /health: status and the per-check details. */
async function health(adminUrl: string): Promise<{ status: number; checks: Record<string, string> }> {
  const res = await fetch(`${adminUrl}/health`);
  const body = (await res.json()) as { checks?: Record<string, string> };
  return { status: res.status, checks: body.checks ?? {} };
}

describe('Matrix homeserver faults against a real Synapse (T10, T11, T12)', () => {
  let env: MatrixMimiEnv | undefined;
  let alice: MatrixUserClient;
  let roomId: string;
  let roomUri: string;
  let mirror: string;
  /** How often Synapse refused the outsider's ghost by the end of the T11 test. */
  let refusals: number | undefined;

  beforeAll(async () => {
    env = await MatrixMimiEnv.create({
      matrix: {
        editRegistration: (reg) => ({
          ...reg,
          rate_limited: true,
          namespaces: {
            ...reg.namespaces,
            // Python's re.match: every ghost of the generated namespace but the outsider's.
            users: reg.namespaces.users.map((ns) => ({
              ...ns,
              regex: `(?!${escapeRegex(OUTSIDER_GHOST)}$)${ns.regex}`,
            })),
          },
        }),
        synapseEnv: { SYNAPSE_RC_MESSAGE: RC_MESSAGE, SYNAPSE_OPEN_REGISTRATION: '1' },
      },
    });
    alice = await env.registerUser('alice');
    // alice's own sends are not what is under test: lift her rate limit.
    const root = await registerUser(env.synapse, 'root', true);
    await root.request('POST', `/_synapse/admin/v1/users/${encodeURIComponent(alice.userId)}/override_ratelimit`, {
      messages_per_second: 0,
      burst_count: 0,
    });
    ({ roomId, roomUri } = await env.createLinkedRoom(alice, `Faults ${RUN}`));
    await env.inviteRemote(alice, roomId, roomUri, BOB_URI);
    mirror = (await waitFor(async () => (await env!.b.control.rooms()).find((r) => r.roomId === `mirror:${roomUri}`), {
      what: `B's mirror room of ${roomUri}`,
    }))!.roomId;
  }, SETUP_TIMEOUT_MS);

  afterAll(() => env?.dispose(), 120_000);

  const scenario = (body: (e: MatrixMimiEnv) => Promise<void>) => withMatrixMimiEnv(() => env, body);

  const synapseLog = (e: MatrixMimiEnv): string => join(e.synapse.dir, 'homeserver.log');

  /** The bodies of `sender`'s messages in the room, oldest first, read back through the client-server API. */
  async function textsOf(sender: string): Promise<string[]> {
    const res = await alice.request<{ chunk: ClientEvent[] }>(
      'GET',
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=500`,
    );
    return res.chunk
      .filter((ev) => ev.type === 'm.room.message' && ev.sender === sender)
      .map((ev) => String(ev.content['body']))
      .reverse();
  }

  it(
    'T11: a human cannot register a user ID or create an alias in the namespace our registration claims (M_EXCLUSIVE)',
    scenario(async (e) => {
      const register = (username: string) =>
        anonymous(e.synapse.url, 'POST', '/_matrix/client/v3/register', {
          username,
          password: `pw-${RUN}-secret`,
          auth: { type: 'm.login.dummy' },
          inhibit_login: true,
        });
      // Control: registration is open on this homeserver, to localparts beginning with `_` too (by
      // default Synapse refuses those first, 400 M_INVALID_USERNAME): only the namespace protects ghosts.
      const human = await register(`_human-${RUN}`);
      expect(human).toMatchObject({ status: 200, body: { user_id: `@_human-${RUN}:${e.synapse.serverName}` } });
      // A ghost's name (the ghost of a MIMI user who never came to this homeserver) is reserved.
      const ghost = e.ghostOf(`mimi://${B}/u/memory:${RUN}` as UserUri);
      const refused = await register(ghost.slice(1, ghost.indexOf(':')));
      expect(refused).toMatchObject({
        status: 400,
        body: { errcode: 'M_EXCLUSIVE', error: 'This user ID is reserved by an application service.' },
      });

      // Aliases: Synapse loads our alias namespace unchanged; a portal alias is refused to humans.
      const aliasPath = (alias: string) => `/_matrix/client/v3/directory/room/${encodeURIComponent(alias)}`;
      const portal = e.ids.portalAlias(`mimi://${B}/r/${RUN}`)!;
      await expect(alice.request('PUT', aliasPath(portal), { room_id: roomId })).rejects.toMatchObject({
        status: 400,
        body: { errcode: 'M_EXCLUSIVE' },
      });
      await alice.request('PUT', aliasPath(`#faults-${RUN}:${e.synapse.serverName}`), { room_id: roomId });
    }),
    STEP_TIMEOUT_MS,
  );

  it(
    'T11: a message whose ghost is outside the exclusive namespace is refused once (M_EXCLUSIVE), surfaced on both sides and not retried',
    scenario(async (e) => {
      // alice invites the outsider's ghost: A adds the user and B follows, but the ghost cannot join.
      await alice.invite(roomId, OUTSIDER_GHOST);
      await waitFor(
        async () => (await e.a.provisioning.room(roomUri))?.participants.some((p) => p.userUri === OUTSIDER_URI),
        {
          timeoutMs: WAIT_MS,
          what: 'the outsider a participant on A',
        },
      );
      await waitFor(
        async () => (await e.b.provisioning.room(roomUri))?.participants.some((p) => p.userUri === OUTSIDER_URI),
        {
          timeoutMs: WAIT_MS,
          what: 'B following the room with the outsider',
        },
      );

      // Synapse refuses to register the ghost for the appservice: the real answer is 400 M_EXCLUSIVE.
      await waitFor(() => linesWith(e.a.logFile, 'M_EXCLUSIVE').length > 0, {
        timeoutMs: WAIT_MS,
        what: "A's log naming M_EXCLUSIVE for the outsider's ghost join",
      });

      // The outsider posts on B: the hub cannot post as the ghost; the message fails for good.
      const text = `outsider speaks ${RUN}`;
      const said = await e.b.control.say(mirror, OUTSIDER, text);
      const notice = await waitFor(
        async () => (await e.b.control.notices()).find((n) => n.about === said.platformEventId),
        { timeoutMs: WAIT_MS, what: "a failure notice for the outsider's message on B" },
      );
      expect(notice.room).toBe(mirror);
      const failed = linesWith(e.a.logFile, 'submission failed').filter((l) => l.includes('M_EXCLUSIVE'));
      expect(failed).toHaveLength(1);
      expect(failed[0]).toContain(`as ${OUTSIDER_GHOST}`);
      refusals = linesWith(synapseLog(e), REFUSAL).length;
      expect(refusals).toBeGreaterThan(0);

      // Not retried: bob's next message goes through, and nobody asked Synapse for the ghost again.
      const after = `bob after the outsider ${RUN}`;
      await e.b.control.say(mirror, BOB, after);
      await alice.waitForEvent((ev) => ev.room_id === roomId && ev.content['body'] === after, WAIT_MS);
      expect(linesWith(synapseLog(e), REFUSAL)).toHaveLength(refusals);
      expect(linesWith(e.a.logFile, 'submission failed').filter((l) => l.includes('M_EXCLUSIVE'))).toHaveLength(1);
      expect(await textsOf(OUTSIDER_GHOST)).toEqual([]);
      expect(await alice.joinedMembers(roomId)).not.toContain(OUTSIDER_GHOST);
    }),
    STEP_TIMEOUT_MS,
  );

  it(
    'T12: a burst through a rate-limited appservice meets Synapse’s 429s (rc_message), waits them out, and lands complete and in order',
    scenario(async (e) => {
      const bobGhost = e.ghostOf(BOB_URI);
      const waitsBefore = linesWith(e.a.logFile, 'rate limited (429)').length;
      await e.b.control.sayMany(mirror, BOB, BURST);
      await waitFor(async () => (await textsOf(bobGhost)).filter((t) => BURST.includes(t)).length >= BURST.length, {
        timeoutMs: STEP_TIMEOUT_MS - 30_000,
        intervalMs: 500,
        what: "bob's burst in the Matrix room",
      });
      // Every message once, in the order sent.
      expect((await textsOf(bobGhost)).filter((t) => BURST.includes(t))).toEqual(BURST);
      // Synapse did throttle the ghost's sends (its log: a 429 on PUT …/send/…?user_id=<ghost>) …
      const throttled = linesWith(synapseLog(e), 'SynapseError: 429 - Too Many Requests (rc_message)').filter(
        (l) => l.includes('/send/m.room.message/') && l.includes(`user_id=${encodeURIComponent(bobGhost)}`),
      );
      expect(throttled.length).toBeGreaterThan(0);
      // … and A waited each time before sending the same transaction again.
      const waits = linesWith(e.a.logFile, 'rate limited (429)').slice(waitsBefore);
      expect(waits.length).toBeGreaterThan(0);
      expect(waits.every((l) => l.includes(`as ${bobGhost}`) && /waiting [1-9]\d* ms/.test(l))).toBe(true);
      // Later traffic did not make A try the outsider's ghost again (T11: not retried forever).
      if (refusals !== undefined) expect(linesWith(synapseLog(e), REFUSAL)).toHaveLength(refusals);
    }),
    STEP_TIMEOUT_MS,
  );

  it(
    'T10: started while Synapse is down, A reports the homeserver failing; a wrong hs_token is refused; once Synapse is up the ping succeeds and /health is ok',
    scenario(async (e) => {
      await e.synapse.stop();
      await e.a.stop();
      const starts = e.a.starts;
      await e.a.start({ untilHealthy: false });
      const pid = e.a.pid;
      const down = await waitFor(
        async () => {
          const h = await health(e.a.adminUrl);
          return h.status === 503 && h.checks['matrix']?.startsWith('failing: homeserver ping: ') ? h : undefined;
        },
        { timeoutMs: WAIT_MS, what: '/health: matrix failing' },
      );
      expect(down.checks['database']).toBe('ok');

      // The appservice answers the homeserver's ping (AS API v1.7) only with the hs_token.
      const ping = (token: string) =>
        fetch(`${e.appserviceUrl}/_matrix/app/v1/ping`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ transaction_id: `t10-${RUN}` }),
        }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));
      expect(await ping(`${e.tokens.hsToken}x`)).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
      expect(await ping(e.tokens.hsToken)).toEqual({ status: 200, body: {} });

      // Synapse comes back with a registration whose hs_token is not A's: its ping to A is refused.
      const wrongFile = join(e.cluster.dir, 'synapse-registration-wrong-hs-token.yaml');
      const reg = YAML.parse(readFileSync(e.synapseRegistrationFile, 'utf8')) as Record<string, unknown>;
      writeFileSync(wrongFile, YAML.stringify({ ...reg, hs_token: `${e.tokens.hsToken}x` }), { mode: 0o600 });
      await e.startSynapseAgain(wrongFile);
      const refused = await waitFor(
        async () => {
          const h = await health(e.a.adminUrl);
          return h.checks['matrix']?.includes('M_BAD_STATUS') ? h : undefined;
        },
        { timeoutMs: PING_WAIT_MS, intervalMs: 500, what: '/health: the homeserver could not ping A (M_BAD_STATUS)' },
      );
      expect(refused.status).toBe(503);
      // Synapse's answer to A: 502 M_BAD_STATUS with A's answer to it, 403 M_FORBIDDEN.
      expect(refused.checks['matrix']).toMatch(/^failing: homeserver ping: 502 \{.*"errcode":"M_BAD_STATUS"/);
      expect(refused.checks['matrix']).toContain('"status":403');
      expect(refused.checks['matrix']).toContain('M_FORBIDDEN');

      // The right registration: the next ping succeeds and A is healthy, never having exited.
      await e.synapse.stop();
      await e.startSynapseAgain();
      const up = await waitFor(
        async () => {
          const h = await health(e.a.adminUrl);
          return h.status === 200 ? h : undefined;
        },
        { timeoutMs: PING_WAIT_MS, intervalMs: 500, what: '/health ok after Synapse is back' },
      );
      expect(up.checks['matrix']).toBe('ok');
      expect(e.a.running).toBe(true);
      expect(e.a.pid).toBe(pid);
      expect(e.a.starts).toBe(starts + 1);

      // And it carries messages again.
      const back = `bob after the homeserver came back ${RUN}`;
      await e.b.control.say(mirror, BOB, back);
      await alice.waitForEvent((ev) => ev.room_id === roomId && ev.content['body'] === back, WAIT_MS);
    }),
    STEP_TIMEOUT_MS + PING_WAIT_MS,
  );
});
