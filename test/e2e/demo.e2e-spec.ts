/**
 * `npm run demo` (scripts/demo.sh → test/demo/demo.ts) as a newcomer runs it: its transcript
 * shows each scripted line on both sides, as each person's client received it, and it leaves no
 * process running, whether it stops by itself (`--once`) or by Ctrl-C (SIGINT to its process
 * group, as a terminal sends it). Needs a build first (`npx nest build`; the script builds only
 * when the sources are newer than dist/).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { XmppTestUser } from '../servers/prosody/xmpp-test-user';
import { MatrixUserClient } from '../servers/synapse/synapse-server';
import { repoRoot } from '../support/e2e-gateways';
import { waitFor } from '../support/e2e-wait';

const DEMO_TIMEOUT_MS = 400_000;
const ALICE = '[matrix @alice:synapse.test]';
const BOB = '[xmpp bob@localhost]';
/** The names each client shows: display names cross MIMI (senderProfile, docs/EXTENSIONS.md). */
const ALICE_NAME = 'alice';
const BOB_NAME = 'bob';

interface DemoRun {
  readonly child: ChildProcess;
  output(): string;
  /** npm's exit code. */
  readonly exited: Promise<number | null>;
  /** Every process holding the output pipes has exited (the demo too, after npm). */
  readonly closed: Promise<unknown>;
}

/** `npm run demo -- …args` in its own process group, its output collected. */
function startDemo(args: readonly string[]): DemoRun {
  let text = '';
  const child = spawn('npm', ['run', '--silent', 'demo', '--', ...args], {
    cwd: repoRoot(),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  child.stdout!.on('data', (c: Buffer) => (text += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (text += c.toString('utf8')));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { child, output: () => text, exited, closed: once(child, 'close') };
}

/** Kill what is left of a demo run (its process group) when a test fails half-way. */
function killGroup(run: DemoRun | undefined): void {
  if (run?.child.pid === undefined || run.child.exitCode !== null) return;
  try {
    process.kill(-run.child.pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/** The pids the demo said it started (`demo: processes: gateway a.example pid 1, …`). */
function startedPids(output: string): number[] {
  const line = output.split('\n').find((l) => l.startsWith('demo: processes: '));
  if (line === undefined) throw new Error(`no process line in the demo's output:\n${output}`);
  return [...line.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `s` as a regular expression that matches it literally. */
function q(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A line of the transcript, exactly: `[client] <who> text` (`text` a regular expression; no `who`: any name). */
function line(client: string, who: string | undefined, text: string): RegExp {
  return new RegExp(`^${q(client)} <${who === undefined ? '[^>]+' : q(who)}> ${text}$`, 'm');
}

/** Both sides of the scripted conversation, as each client shows them. */
function expectTranscript(output: string): void {
  const lobby = q('Hi Bob! This room lives on Matrix.');
  const bobAnswer = q('Hi Alice, I am reading you from XMPP.');
  const welcome = q('Welcome to my MUC, Alice. It lives on XMPP.');
  const thanks = q('Thanks Bob, I am here from Matrix.');
  const expected = [
    // The Matrix room, hubbed by A, mirrored into a MUC by B.
    line(ALICE, ALICE_NAME, lobby),
    line(BOB, ALICE_NAME, lobby),
    line(BOB, BOB_NAME, `\\(replying to "${lobby}"\\) ${bobAnswer}`),
    // bob's first message in a Matrix room: his ghost's member event takes his name only after it
    // (Synapse copies the new display name in the background; test/e2e/headline.e2e-spec.ts, todo).
    line(ALICE, undefined, `\\(replying to "${lobby}"\\) ${bobAnswer}`),
    line(ALICE, ALICE_NAME, `reacted 👍 to "${bobAnswer}"`),
    line(BOB, ALICE_NAME, `reacted 👍 to "${bobAnswer}"`),
    line(
      BOB,
      ALICE_NAME,
      `edited "${lobby}" → "${q('Hi Bob! This room lives on Matrix, and MIMI brings it to you.')}"`,
    ),
    // The MUC, hubbed by B, mirrored into a Matrix room by A.
    line(BOB, BOB_NAME, welcome),
    line(ALICE, BOB_NAME, welcome),
    line(ALICE, ALICE_NAME, `\\(replying to "${welcome}"\\) ${thanks}`),
    line(BOB, ALICE_NAME, `\\(replying to "${welcome}"\\) ${thanks}`),
    line(ALICE, BOB_NAME, `reacted 🎉 to "${thanks}"`),
    line(
      ALICE,
      BOB_NAME,
      `edited "${welcome}" → "${q('Welcome to my MUC, Alice. It lives on XMPP, hubbed by gateway B.')}"`,
    ),
    line(ALICE, BOB_NAME, q('(a message bob will delete)')),
    line(ALICE, BOB_NAME, `deleted "${q('(a message bob will delete)')}"`),
  ];
  for (const re of expected) expect(output).toMatch(re);
  // In the order the script plays it.
  const at = expected.map((re) => output.search(re));
  expect(at).toEqual([...at].sort((x, y) => x - y));
}

/** The first match's groups of `re` in the demo's output. */
function printed(output: string, re: RegExp): string[] {
  const m = re.exec(output);
  if (!m) throw new Error(`the demo did not print ${re}:\n${output}`);
  return m.slice(1);
}

/**
 * A Matrix client and an XMPP client log in with what the demo printed and enter every room it
 * names; a line from each reaches the other through MIMI.
 */
async function joinInAsTheInstructionsSay(output: string): Promise<void> {
  const [homeserver] = printed(output, /Matrix: homeserver (http:\/\/127\.0\.0\.1:\d+) /);
  const [login, password] = printed(output, /user @guest:synapse\.test \(log in as "(\w+)"\), password (\S+)/);
  const [lobby, loungeMirror] = printed(
    output,
    /rooms: "Matrix lobby" (!\S+) \(you are invited\); the MUC's mirror: (#\S+)/,
  );
  const [jid, xmppPassword] = printed(output, /XMPP: +JID (\S+), password (\S+)/);
  const [host, port] = printed(output, /server (127\.0\.0\.1) port (\d+) /);
  const [lounge, lobbyMirror] = printed(
    output,
    /rooms \(join them\): (\S+) \(bob's MUC\); the Matrix lobby's mirror: (\S+)/,
  );

  const res = await fetch(`${homeserver}/_matrix/client/v3/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'm.login.password', identifier: { type: 'm.id.user', user: login }, password }),
  });
  expect(res.status).toBe(200);
  const session = (await res.json()) as { user_id: string; access_token: string };
  const matrix = new MatrixUserClient(homeserver!, session.user_id, session.access_token);
  await matrix.initialSync();
  await matrix.join(lobby!);
  const mirrorRoom = await matrix.join(loungeMirror!);

  const xmpp = await XmppTestUser.connect(`xmpp://${host}:${port}`, jid!.split('@')[0]!, xmppPassword!);
  try {
    for (const muc of [lounge!, lobbyMirror!]) expect((await xmpp.join(muc, 'guest')).attrs.type).toBeUndefined();
    const fromMatrix = `the Matrix guest says hi ${Date.now()}`;
    const since = xmpp.mark();
    await matrix.sendText(lobby!, fromMatrix);
    await xmpp.waitFor(
      (el) => el.attrs.from?.startsWith(`${lobbyMirror}/`) === true && el.getChildText('body') === fromMatrix,
      'the Matrix guest in the lobby mirror',
      { since, timeoutMs: 30_000 },
    );
    const fromXmpp = `the XMPP guest says hi ${Date.now()}`;
    await xmpp.say(lounge!, fromXmpp);
    await matrix.waitForEvent((e) => e.room_id === mirrorRoom && e.content['body'] === fromXmpp, 30_000);
  } finally {
    await xmpp.stop();
  }
}

describe('npm run demo', () => {
  let run: DemoRun | undefined;

  afterEach(() => killGroup(run));

  it(
    '`--once` prints the conversation as both clients saw it, then stops everything it started',
    async () => {
      run = startDemo(['--once']);
      const code = await run.exited;
      const output = run.output();
      expect({ code, output }).toMatchObject({ code: 0 });
      expectTranscript(output);
      expect(output).toMatch(/^demo: stopped; nothing left running/m);
      const pids = startedPids(output);
      expect(pids).toHaveLength(4); // two gateways, Prosody, Synapse
      expect(pids.filter(alive)).toEqual([]);
    },
    DEMO_TIMEOUT_MS,
  );

  it(
    'stays up with instructions that let any Matrix or XMPP client join in; Ctrl-C stops everything it started',
    async () => {
      run = startDemo([]);
      const r = run;
      await waitFor(() => r.output().includes('Ctrl-C stops everything.') || r.child.exitCode !== null, {
        timeoutMs: DEMO_TIMEOUT_MS - 60_000,
        intervalMs: 200,
        what: 'the join-in instructions',
      });
      const output = r.output();
      const pids = startedPids(output);
      expect(pids.filter(alive)).toHaveLength(4);
      await joinInAsTheInstructionsSay(output);

      // npm itself exits at once on SIGINT; the demo stops its processes, then closes the pipes.
      process.kill(-r.child.pid!, 'SIGINT');
      await r.closed;
      expect(r.output()).toMatch(/^==> stopping \(SIGINT\)/m);
      expect(r.output()).toMatch(/^demo: stopped; nothing left running/m);
      expect(pids.filter(alive)).toEqual([]);
    },
    DEMO_TIMEOUT_MS,
  );
});
