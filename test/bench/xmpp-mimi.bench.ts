/**
 * XMPP → MIMI benchmark (issue 5 "Done means"): messages per second from a MUC to a follower
 * gateway's storage, everything real and on loopback: Prosody (Debian's package, our generated
 * component section), gateway A as a `mimi-gateway start` process bridging the MUC in component
 * mode (the hub), follower B as a memory-platform gateway process, mutual TLS between them
 * (test/e2e/support/xmpp-mimi-env.ts).
 *
 *   npx tsc -p tsconfig.build.json
 *   node dist/test/bench/xmpp-mimi.bench.js [--messages 1000] [--senders 4] [--paced 200] [--rate 50]
 *
 * What is measured:
 * - burst: `--senders` native XMPP users (real @xmpp/client connections) pipeline `--messages`
 *   groupchat messages between them into the MUC as fast as their streams take them.
 *   msgs/s = N / (first send → the last message in B's storage: B's `room_event` rows counted in
 *   its database file, polled every POLL_MS; then `GET /provisioning/rooms/:roomUri/events` checks
 *   each message is there once, in its sender's order). Latency per message: its send → B's
 *   platform accepting the rendered
 *   message, which B does right after storing it (the memory platform's own clock, same machine),
 *   so it is MUC → A (bridge, MLS encrypt, log, outbox) → B (/notify, MLS decrypt, store) → render.
 * - baseline, same run: the same messages as another occupant of the MUC receives them (Prosody
 *   alone), so the gateway's share can be read off.
 * - paced: `--paced` messages at `--rate` per second in total, for latency without a backlog.
 * Every message must arrive once, in each sender's order; the bench fails otherwise.
 */
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { NS } from '../../bridges/xmpp/protocol/namespaces';
import { xml, type XmlElement } from '../../bridges/xmpp/protocol/xml';
import type { XmppTestUser } from '../servers/prosody/xmpp-test-user';
import type { StoredRoomEvent } from '../support/e2e-clients';
import { waitFor, waitForValue } from '../support/e2e-wait';
import { XmppMimiEnv, invitePuppet, memoryUserUri, mucJid } from '../e2e/support/xmpp-mimi-env';
import { formatTable, numberArg, percentile } from './bench-support';

const MESSAGES = numberArg('messages', 1000);
const SENDERS = Math.max(1, numberArg('senders', 4));
const PACED = numberArg('paced', 200);
const RATE = Math.max(1, numberArg('rate', 50));
const OWNER = { username: 'owner', password: 'owner-pw' };
const OBSERVER = { username: 'observer', password: 'observer-pw' };
const SENDER_ACCOUNTS = Array.from({ length: SENDERS }, (_, i) => ({ username: `sender${i}`, password: `pw-${i}` }));
const READER = { userId: 'reader' };
const BODY_PAD = 'x'.repeat(200);
const POLL_MS = 200;
const DRAIN_TIMEOUT_MS = 600_000;
const SETUP_TIMEOUT_MS = 120_000;

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes on one machine. */
function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

interface Row {
  readonly scenario: string;
  readonly count: number;
  readonly rate: number;
  readonly latencies: readonly number[];
  readonly note: string;
}

function printTable(rows: readonly Row[]): void {
  const header = ['scenario', 'msgs', 'msgs/s', 'p50 ms', 'p99 ms', 'note'];
  const lines = rows.map((r) => {
    const sorted = [...r.latencies].sort((a, b) => a - b);
    return [
      r.scenario,
      String(r.count),
      r.rate.toFixed(1),
      sorted.length ? percentile(sorted, 0.5).toFixed(1) : '-',
      sorted.length ? percentile(sorted, 0.99).toFixed(1) : '-',
      r.note,
    ];
  });
  process.stdout.write(`${formatTable(header, lines)}\n`);
}

function storedText(e: StoredRoomEvent): string | undefined {
  const t = e.content?.text;
  return typeof t === 'string' ? t : undefined;
}

/** One groupchat without waiting for the reflection (a client pipelining its messages). */
function groupchat(room: string, text: string): ReturnType<typeof xml> {
  const id = randomUUID();
  return xml(
    'message',
    { to: room, type: 'groupchat', id },
    xml('body', {}, text),
    xml('origin-id', { xmlns: NS.SID, id }),
  );
}

async function main(): Promise<void> {
  const room = mucJid('bench');
  let storeOfB: Database.Database | undefined;
  const env = await XmppMimiEnv.create({ accounts: [OWNER, OBSERVER, ...SENDER_ACCOUNTS], logLevel: 'warn' });
  try {
    const owner = await env.connect(OWNER);
    await env.createLinkedMuc(owner, room, 'owner');
    const observer = await env.connect(OBSERVER);
    await observer.join(room, 'observer');
    // When the observer's stream delivered each body (the baseline: Prosody alone).
    const observedAt = new Map<string, number>();
    observer.xmpp.on('stanza', (el: XmlElement) => {
      const body = el.name === 'message' && el.attrs.type === 'groupchat' ? el.getChildText('body') : null;
      if (body && !observedAt.has(body)) observedAt.set(body, preciseNow());
    });
    const senders: XmppTestUser[] = [];
    for (const [i, account] of SENDER_ACCOUNTS.entries()) {
      const s = await env.connect(account);
      await s.join(room, `sender${i}`);
      senders.push(s);
    }
    env.link(room);
    await env.a.start();
    const roomUri = await env.linkedRoomUri(env.a, room);
    await invitePuppet(owner, room, memoryUserUri(READER.userId));
    await waitFor(async () => (await env.b.provisioning.room(roomUri)) !== undefined, {
      timeoutMs: SETUP_TIMEOUT_MS,
      what: 'B following the room',
    });
    const mirror = await env.mirrorOnB(roomUri);

    // Warm-up: each sender's first message makes A add its puppet client (an MLS commit each).
    const warm = senders.map((_, i) => `warm-up ${i} ${room}`);
    await Promise.all(senders.map((s, i) => s.say(room, warm[i])));
    await waitForValue(
      () => env.b.provisioning.events(roomUri),
      (evs) => warm.every((w) => evs.some((e) => storedText(e) === w)),
      { timeoutMs: SETUP_TIMEOUT_MS, intervalMs: POLL_MS, what: 'the warm-up messages on B' },
    );

    storeOfB = new Database(env.b.databaseFile, { readonly: true, fileMustExist: true });
    const store = storeOfB;
    const countOnB = (): number =>
      (store.prepare('SELECT COUNT(*) AS n FROM room_event WHERE room_uri = ?').get(roomUri) as { n: number }).n;
    const rows: Row[] = [];
    const run = async (label: string, texts: string[], pace?: number): Promise<void> => {
      const sentAt = new Map<string, number>();
      const countBefore = countOnB();
      const timelineSince = (await env.b.control.timeline(mirror)).length;
      const started = preciseNow();
      const bySender = senders.map((_, i) => texts.filter((__, j) => j % senders.length === i));
      if (pace === undefined) {
        await Promise.all(
          bySender.map((own, i) =>
            Promise.all(
              own.map((t) => {
                sentAt.set(t, preciseNow());
                return senders[i]!.send(groupchat(room, t));
              }),
            ),
          ),
        );
      } else {
        for (const [j, t] of texts.entries()) {
          const due = started + (j * 1000) / pace;
          const wait = due - preciseNow();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          sentAt.set(t, preciseNow());
          await senders[j % senders.length]!.send(groupchat(room, t));
        }
      }
      const wanted = new Set(texts);
      // Polled in B's database file (read-only, as bench:matrix does): listing the whole log through
      // the provisioning API every POLL_MS would load B (decoding every message each time) while it drains.
      await waitFor(() => countOnB() >= countBefore + texts.length, {
        timeoutMs: DRAIN_TIMEOUT_MS,
        intervalMs: POLL_MS,
        what: `${label}: as many new messages in B's storage`,
      });
      let storedAll = preciseNow();
      const complete = (evs: StoredRoomEvent[]): boolean =>
        evs.filter((e) => wanted.has(storedText(e) ?? '')).length >= texts.length;
      let events = await env.b.provisioning.events(roomUri);
      if (!complete(events)) {
        // Something else was counted: wait for the messages themselves, as before.
        events = await waitForValue(() => env.b.provisioning.events(roomUri), complete, {
          timeoutMs: DRAIN_TIMEOUT_MS,
          intervalMs: POLL_MS,
          what: `${label}: every message in B's storage`,
        });
        storedAll = preciseNow();
      }
      const storedTexts = events.flatMap((e) => (wanted.has(storedText(e) ?? '') ? [storedText(e)!] : []));
      if (new Set(storedTexts).size !== texts.length || storedTexts.length !== texts.length) {
        throw new Error(`${label}: B stored ${storedTexts.length} messages, ${new Set(storedTexts).size} distinct`);
      }
      for (const own of bySender) {
        const order = storedTexts.filter((t) => own.includes(t));
        if (order.join('\n') !== own.join('\n')) throw new Error(`${label}: a sender's messages are out of order on B`);
      }
      const rendered = await waitForValue(
        () => env.b.control.timeline(mirror, timelineSince),
        (t) => t.filter((e) => e.event.kind === 'message' && wanted.has(textOf(e.event) ?? '')).length >= texts.length,
        { timeoutMs: DRAIN_TIMEOUT_MS, intervalMs: POLL_MS, what: `${label}: every message rendered on B` },
      );
      const renderedAt = new Map(rendered.flatMap((e) => (textOf(e.event) ? [[textOf(e.event)!, e.recordedAt]] : [])));
      await waitFor(() => texts.every((t) => observedAt.has(t)), {
        what: `${label}: the observer receiving every message`,
      });
      const lastObserved = Math.max(...texts.map((t) => observedAt.get(t)!));
      rows.push({
        scenario: `${label}: MUC only (baseline)`,
        count: texts.length,
        rate: (texts.length / (lastObserved - started)) * 1000,
        latencies: texts.map((t) => observedAt.get(t)! - sentAt.get(t)!),
        note: 'another occupant receives the messages',
      });
      rows.push({
        scenario: `${label}: MUC → B storage`,
        count: texts.length,
        rate: (texts.length / (storedAll - started)) * 1000,
        latencies: texts.map((t) => renderedAt.get(t)! - sentAt.get(t)!),
        note: `rate: until all stored on B (polled every ${POLL_MS} ms); latency: send → rendered on B (after storing)`,
      });
    };

    await run(
      'burst',
      Array.from({ length: MESSAGES }, (_, i) => `burst ${i} ${BODY_PAD}`),
      undefined,
    );
    if (PACED > 0) {
      await run(
        `paced ${RATE}/s`,
        Array.from({ length: PACED }, (_, i) => `paced ${i} ${BODY_PAD}`),
        RATE,
      );
    }
    process.stdout.write(
      `\nXMPP → MIMI bench: ${SENDERS} senders, ${MESSAGES} burst messages, ${PACED} paced at ${RATE}/s, ` +
        `${BODY_PAD.length + 10}-byte bodies\n\n`,
    );
    printTable(rows);
  } finally {
    storeOfB?.close();
    await env.dispose();
  }
}

function textOf(event: { kind: string; action?: { type: string; body?: { text?: string } } }): string | undefined {
  return event.kind === 'message' && event.action?.type === 'post' ? event.action.body?.text : undefined;
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`xmpp-mimi bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
