/**
 * Throughput of the XMPP bridge from a MUC to the core's storage: one native user pipelines
 * XMPP_BENCH_MESSAGES groupchat messages (default 1000) into a MUC on the test Prosody; the
 * bridge, in a process of its own (component mode), hands each to its sink, which appends it to a
 * file (the stand-in for the follower's storage). Prints messages per second; checks that every
 * message arrived once, in order.
 *
 *   npx jest --config test/jest-e2e.config.js --runInBand test/e2e/xmpp-throughput
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NS } from '../../bridges/xmpp/protocol/namespaces';
import { xml } from '../../bridges/xmpp/protocol/xml';
import { BridgeChild, readEvents, type RecordedEvent } from '../servers/prosody/bridge-child';
import { PROSODY_MUC_DOMAIN, ProsodyServer } from '../servers/prosody/prosody-server';
import { XmppTestUser } from '../servers/prosody/xmpp-test-user';
import { waitFor } from '../support/e2e-wait';

const COMPONENT_DOMAIN = 'mimi.localhost';
const ALICE = { username: 'alice', password: 'alice-pw' };
const MESSAGES = Number(process.env.XMPP_BENCH_MESSAGES ?? 1000);

function bodyOf(e: RecordedEvent): string | undefined {
  return e.kind === 'message' && e.action.type === 'post' ? e.action.body.text : undefined;
}

describe('XMPP bridge throughput (MUC → sink)', () => {
  let prosody: ProsodyServer;
  let dir: string;
  let alice: XmppTestUser;
  let child: BridgeChild | undefined;

  beforeAll(async () => {
    prosody = await ProsodyServer.start({ componentDomain: COMPONENT_DOMAIN, accounts: [ALICE] });
    dir = mkdtempSync(join(tmpdir(), 'xmpp-bench-'));
    alice = await XmppTestUser.connect(prosody.c2sService, ALICE.username, ALICE.password);
  });

  afterAll(async () => {
    await child?.kill('SIGKILL');
    await alice?.stop();
    await prosody?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`carries ${MESSAGES} messages from the MUC to storage, once each, in order`, async () => {
    const room = `bench-${randomUUID().slice(0, 8)}@${PROSODY_MUC_DOMAIN}`;
    await alice.createRoom(room, 'alice');
    await alice.setAffiliation(room, `mimibot@${COMPONENT_DOMAIN}`, 'owner');
    const eventsFile = join(dir, 'events.jsonl');
    child = await BridgeChild.start({
      mode: 'component',
      service: prosody.componentService,
      componentDomain: COMPONENT_DOMAIN,
      secret: prosody.componentSecret,
      botNick: 'MIMI',
      links: [room],
      stateFile: join(dir, 'state.json'),
      eventsFile,
    });
    await waitFor(() => readEvents(eventsFile).some((e) => e.kind === 'membership'), {
      what: 'the bridge in the room',
    });
    const bodies = Array.from({ length: MESSAGES }, (_, i) => `bench ${i}`);
    const started = process.hrtime.bigint();
    await Promise.all(
      bodies.map((b) => {
        const id = randomUUID();
        return alice.send(
          xml(
            'message',
            { to: room, type: 'groupchat', id },
            xml('body', {}, b),
            xml('origin-id', { xmlns: NS.SID, id }),
          ),
        );
      }),
    );
    const sentMs = Number(process.hrtime.bigint() - started) / 1e6;
    const events = await waitFor(
      () => {
        const got = readEvents(eventsFile).filter((e) => bodyOf(e) !== undefined);
        return got.length >= MESSAGES ? got : undefined;
      },
      { what: `${MESSAGES} messages in storage`, timeoutMs: 120_000, intervalMs: 20 },
    );
    const doneMs = Number(process.hrtime.bigint() - started) / 1e6;
    const rate = Math.round((MESSAGES / doneMs) * 1000);
    console.log(
      `XMPP bridge throughput: ${MESSAGES} messages MUC → storage in ${Math.round(doneMs)} ms = ${rate} msg/s ` +
        `(sender done after ${Math.round(sentMs)} ms)`,
    );
    expect(events.map(bodyOf)).toEqual(bodies);
    expect(new Set(events.map((e) => e.platformEventId)).size).toBe(MESSAGES);
  });
});
