/**
 * Gateway-scale MLS on this machine: for groups of 10, 100 and 1,000 members (10, 100 and 500 of
 * them local puppets of the hub gateway), the cost of one commit at the hub (an Add, an
 * AppDataUpdate of the participant list, a Remove with its UpdatePath; storage writes included,
 * in memory) as p50/p95 over several runs, application messages protected at the hub and
 * unprotected by a second gateway holding the same group (pairs/s), bytes written, and the
 * node:crypto baselines measured in the same run.
 *
 *   npx ts-node --transpile-only src/mls/gateway/bench-scale.ts
 *   MLS_BENCH_QUICK=1 npx ts-node --transpile-only src/mls/gateway/bench-scale.ts   (fewer runs, smaller sizes)
 */
import { createCipheriv, createDecipheriv, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import type { UserUri } from '../../common/ids';
import { InMemoryMlsStorage } from '../mls-storage';
import { CountingStorage, bot, groupIdOf, hubSender, participant, puppet, remote } from './gateway.fixtures';
import { GroupStore } from './group-store';

const QUICK = process.env.MLS_BENCH_QUICK === '1';
const progress = (text: string): void => void process.stderr.write(`${text}\n`);
const out = (text: string): void => void process.stdout.write(`${text}\n`);
const RUNS = QUICK ? 3 : 7;
const MESSAGES = QUICK ? 150 : 600;
const BASELINE_MS = QUICK ? 200 : 500;
const ONLY = process.env.MLS_BENCH_SIZES?.split(',').map(Number);
const SIZES_ALL: readonly { members: number; locals: number }[] = QUICK
  ? [
      { members: 10, locals: 10 },
      { members: 100, locals: 100 },
      { members: 1000, locals: 500 },
    ]
  : [
      { members: 10, locals: 10 },
      { members: 100, locals: 100 },
      { members: 1000, locals: 500 },
    ];
const SIZES = ONLY ? SIZES_ALL.filter((s) => ONLY.includes(s.members)) : SIZES_ALL;
const PAYLOAD = new Uint8Array(200).fill(0x61);

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;
const fmt = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const t0 = process.hrtime.bigint();
  const result = await fn();
  return { ms: ms(t0), result };
}

interface Row {
  members: number;
  locals: number;
  add: number[];
  appData: number[];
  remove: number[];
  commitBytes: number;
  pairsPerSecond: number;
  messageBytes: number;
}

async function benchSize(members: number, locals: number): Promise<Row> {
  const storage = new CountingStorage();
  const hub = new GroupStore(storage);
  const remoteStore = new GroupStore(new InMemoryMlsStorage());
  const name = `bench-${members}`;
  const group = await hub.createGroup({
    groupId: groupIdOf(name),
    creator: bot(),
    hub: hubSender(),
    participants: [participant(bot())],
  });
  const localUsers = Array.from({ length: locals - 1 }, (_, i) => puppet(i));
  const remoteUsers = Array.from({ length: members - locals }, (_, i) => remote(i));
  const kps: Uint8Array[] = [];
  for (const u of remoteUsers) kps.push((await remoteStore.createKeyPackage(u)).keyPackage);
  let participants = [bot(), ...localUsers, ...remoteUsers].map(participant);
  await group.commit(bot(), { addLocal: localUsers, add: kps, participants });
  progress(`${members} members: group set up`);

  const row: Row = {
    members,
    locals,
    add: [],
    appData: [],
    remove: [],
    commitBytes: 0,
    pairsPerSecond: 0,
    messageBytes: 0,
  };
  for (let run = 0; run < RUNS; run++) {
    const joiner = remote(100_000 + run);
    const kp = (await remoteStore.createKeyPackage(joiner)).keyPackage;
    participants = [...participants, participant(joiner)];
    row.add.push((await timed(() => group.commit(bot(), { add: [kp], participants }))).ms);
    participants = participants.map((p) => (p.user === joiner ? { ...p, roleIndex: 3 } : p));
    const before = storage.written;
    row.appData.push((await timed(() => group.commit(bot(), { participants }))).ms);
    row.commitBytes = storage.written - before;
    participants = participants.filter((p) => p.user !== joiner);
    row.remove.push((await timed(() => group.commit(bot(), { removeUsers: [joiner], participants }))).ms);
  }

  progress(`${members} members: commits done`);
  // A second gateway with a copy of the hub's storage holds the same group and receives.
  const copy = new InMemoryMlsStorage();
  for (const key of await storage.list('')) await copy.put(key, (await storage.get(key))!);
  const mirror = (await new GroupStore(copy).group(groupIdOf(name)))!;
  const senders: UserUri[] = [bot(), ...localUsers];
  const before = storage.written;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < MESSAGES; i++) {
    const ct = await group.encrypt(senders[i % senders.length]!, PAYLOAD);
    const got = await mirror.processMessage(ct);
    if (got.kind !== 'application') throw new Error(`message ${i}: ${got.kind}`);
  }
  row.pairsPerSecond = MESSAGES / (ms(t0) / 1000);
  row.messageBytes = (storage.written - before) / MESSAGES;
  return row;
}

function baselines(): { signVerify: number; aead: number } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const msg = randomBytes(200);
  let n = 0;
  let t0 = process.hrtime.bigint();
  while (ms(t0) < BASELINE_MS) {
    const sig = sign(null, msg, privateKey);
    if (!verify(null, msg, publicKey, sig)) throw new Error('verify');
    n++;
  }
  const signVerify = n / (ms(t0) / 1000);
  const key = randomBytes(16);
  n = 0;
  t0 = process.hrtime.bigint();
  while (ms(t0) < BASELINE_MS) {
    const nonce = randomBytes(12);
    const c = createCipheriv('aes-128-gcm', key, nonce);
    const ct = Buffer.concat([c.update(msg), c.final()]);
    const tag = c.getAuthTag();
    const d = createDecipheriv('aes-128-gcm', key, nonce);
    d.setAuthTag(tag);
    Buffer.concat([d.update(ct), d.final()]);
    n++;
  }
  return { signVerify, aead: n / (ms(t0) / 1000) };
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  for (const s of SIZES) rows.push(await benchSize(s.members, s.locals));
  const base = baselines();
  const header = [
    'members',
    'local',
    'add p50/p95 ms',
    'AppDataUpdate p50/p95 ms',
    'remove+path p50/p95 ms',
    'bytes/commit',
    'protect+unprotect pairs/s',
    'bytes/message',
  ];
  const lines = rows.map((r) => [
    String(r.members),
    String(r.locals),
    `${fmt(pct(r.add, 50))} / ${fmt(pct(r.add, 95))}`,
    `${fmt(pct(r.appData, 50))} / ${fmt(pct(r.appData, 95))}`,
    `${fmt(pct(r.remove, 50))} / ${fmt(pct(r.remove, 95))}`,
    String(r.commitBytes),
    r.pairsPerSecond.toFixed(0),
    r.messageBytes.toFixed(0),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const print = (cells: string[]): void => out(`| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`);
  out(`gateway-scale MLS bench (${QUICK ? 'quick, ' : ''}${RUNS} commit runs, ${MESSAGES} messages per size)`);
  print(header);
  print(widths.map((w) => '-'.repeat(w)));
  for (const l of lines) print(l);
  out(
    `node:crypto baselines: Ed25519 sign+verify ${base.signVerify.toFixed(0)} pairs/s, AES-128-GCM seal+open (200 B) ${base.aead.toFixed(0)}/s`,
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`${String(e instanceof Error ? e.stack : e)}\n`);
  process.exit(1);
});
