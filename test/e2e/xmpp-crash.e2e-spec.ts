/**
 * The XMPP bridge killed with SIGKILL mid-stream (in a process of its own) against a real Prosody:
 * after a restart it replays the MUC archive from its saved cursor, so the core's storage (here:
 * the events file, deduplicated by platformEventId as the core does) ends with every message
 * exactly once; a post retried after the crash with the same idempotency key is not sent twice.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStateStore } from '../../bridges/xmpp/state/bridge-state';
import { userUri } from '../../src/common/ids';
import type { RemoteUser } from '../../src/ports';
import { BridgeChild, readEvents, type RecordedEvent } from '../servers/prosody/bridge-child';
import type { BridgeProcessSpec } from '../servers/prosody/bridge-spec';
import { PROSODY_MUC_DOMAIN, ProsodyServer } from '../servers/prosody/prosody-server';
import { XmppTestUser } from '../servers/prosody/xmpp-test-user';
import { waitFor } from '../support/e2e-wait';

const COMPONENT_DOMAIN = 'mimi.localhost';
const BOT_JID = `mimibot@${COMPONENT_DOMAIN}`;
const ALICE = { username: 'alice', password: 'alice-pw' };
const MIMI_DAVE: RemoteUser = { userUri: userUri('follower.example', 'dave'), displayName: 'Dave' };
const MESSAGES = 40;
const KILL_AFTER = 12;

function bodyOf(e: RecordedEvent): string | undefined {
  return e.kind === 'message' && e.action.type === 'post' ? e.action.body.text : undefined;
}

describe('XMPP bridge killed with SIGKILL', () => {
  let prosody: ProsodyServer;
  let dir: string;
  let alice: XmppTestUser;
  let spec: BridgeProcessSpec;
  let room: string;
  const children: BridgeChild[] = [];

  /** The stanza-id of the room's archive cursor in the bridge's state file, once one was saved. */
  function savedCursor(): string | undefined {
    return new FileStateStore(spec.stateFile).load().rooms[room]?.cursor?.stanzaId;
  }

  async function startChild(): Promise<BridgeChild> {
    const c = await BridgeChild.start(spec);
    children.push(c);
    return c;
  }

  beforeAll(async () => {
    prosody = await ProsodyServer.start({ componentDomain: COMPONENT_DOMAIN, accounts: [ALICE] });
    dir = mkdtempSync(join(tmpdir(), 'xmpp-crash-'));
    alice = await XmppTestUser.connect(prosody.c2sService, ALICE.username, ALICE.password);
    room = `crash-${randomUUID().slice(0, 8)}@${PROSODY_MUC_DOMAIN}`;
    await alice.createRoom(room, 'alice');
    await alice.setAffiliation(room, BOT_JID, 'owner');
    spec = {
      mode: 'component',
      service: prosody.componentService,
      componentDomain: COMPONENT_DOMAIN,
      secret: prosody.componentSecret,
      botNick: 'MIMI',
      links: [room],
      stateFile: join(dir, 'state.json'),
      eventsFile: join(dir, 'events.jsonl'),
    };
  });

  afterAll(async () => {
    for (const c of children) await c.kill('SIGKILL');
    await alice?.stop();
    await prosody?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('loses and doubles nothing from the MUC across a SIGKILL mid-stream', async () => {
    const first = await startChild();
    const bodies = Array.from({ length: MESSAGES }, (_, i) => `crash test ${i + 1}`);
    const stanzaIds = new Map<string, string>();
    for (const b of bodies.slice(0, KILL_AFTER)) stanzaIds.set(b, (await alice.say(room, b)).stanzaId);
    await waitFor(() => readEvents(spec.eventsFile).filter(bodyOf).length >= KILL_AFTER / 2, {
      what: 'the first messages recorded',
    });
    await waitFor(() => savedCursor(), { what: 'an archive cursor saved' });
    await first.kill('SIGKILL');
    // Where the second process starts: the cursor as the first one last saved it.
    const cursor = savedCursor()!;
    for (const b of bodies.slice(KILL_AFTER)) stanzaIds.set(b, (await alice.say(room, b)).stanzaId);
    const second = await startChild();
    const all = await waitFor(
      () => {
        const events = readEvents(spec.eventsFile);
        return bodies.every((b) => events.some((e) => bodyOf(e) === b)) ? events : undefined;
      },
      { what: 'every message recorded', timeoutMs: 60_000 },
    );
    // Storage as the core keeps it: one row per platformEventId.
    const stored = new Map<string, RecordedEvent>();
    for (const e of all) {
      if (bodyOf(e) !== undefined && !stored.has(e.platformEventId)) stored.set(e.platformEventId, e);
    }
    expect([...stored.values()].map(bodyOf)).toEqual(bodies);
    expect([...stored.keys()]).toEqual(bodies.map((b) => stanzaIds.get(b)));
    // Within one process nothing is delivered twice; across the crash, exactly what came after the
    // last saved cursor (at most FLUSH_DELAY_MS of progress) is delivered again, and the core drops it.
    const idsOf = (pid: number): string[] =>
      all.filter((e) => e.pid === pid && bodyOf(e) !== undefined).map((e) => e.platformEventId);
    const firstIds = idsOf(first.pid);
    const secondIds = idsOf(second.pid);
    expect(new Set(firstIds).size).toBe(firstIds.length);
    expect(new Set(secondIds).size).toBe(secondIds.length);
    const replays = secondIds.filter((id) => firstIds.includes(id));
    expect(firstIds).toContain(cursor);
    expect(replays).toEqual(firstIds.slice(firstIds.indexOf(cursor) + 1));
    expect(replays.length).toBeLessThan(firstIds.length);
    expect(firstIds.length + secondIds.length - replays.length).toBe(MESSAGES);
    await second.kill('SIGTERM');
  });

  it('does not post twice when a post is retried after a SIGKILL', async () => {
    const child = await startChild();
    const key = `retry-${randomUUID()}`;
    const text = `posted before the crash ${randomUUID().slice(0, 6)}`;
    const before = await child.post(room, MIMI_DAVE, text, key);
    await child.kill('SIGKILL');
    const again = await startChild();
    const retried = await again.post(room, MIMI_DAVE, text, key);
    expect(retried.platformEventId).toBe(before.platformEventId);
    expect(retried.echoKeys).toEqual(before.echoKeys);
    const archived = await alice.archive(room);
    expect(archived.filter((el) => el.getChildText('body') === text)).toHaveLength(1);
    await again.kill('SIGTERM');
  });
});
