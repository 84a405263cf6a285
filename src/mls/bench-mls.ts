/**
 * MLS throughput on this machine: application messages encrypted and decrypted per second, with
 * ts-mls's default crypto provider and with node:crypto (`nodeCryptoProvider`), both for bare
 * ts-mls calls and through `MemberClient` (which also encodes and stores the whole group state
 * after every message). Prints a table; takes a few seconds.
 *
 *   npx ts-node --transpile-only src/mls/bench-mls.ts        (MLS_BENCH_MS=<ms per row> to change)
 *   node dist/src/mls/bench-mls.js                           (after `npm run build`)
 */
import { Logger } from '@nestjs/common';
import {
  type CiphersuiteImpl,
  type ClientState,
  createApplicationMessage,
  createCommit,
  createGroup,
  defaultCapabilities,
  defaultLifetime,
  emptyPskIndex,
  generateKeyPackage,
  joinGroup,
  processPrivateMessage,
} from 'ts-mls';
import { type ProviderDomain, roomUri, userUri } from '../common/ids';
import { HubExternalSender } from './credentials';
import { MlsCryptoBackend, mlsCiphersuite } from './crypto';
import { MemberClient } from './member-client';
import { InMemoryMlsStorage } from './mls-storage';
import { RoomGroup } from './room-group';

const DURATION_MS = Number(process.env.MLS_BENCH_MS ?? 400);
/** A typical MIMI content message (CBOR text message with salt and extensions) is a few hundred bytes. */
const PAYLOAD = new Uint8Array(200).fill(0x61);
const MAX_MESSAGES = 20_000;
const DOMAIN = 'bench.example' as ProviderDomain;

interface Row {
  backend: string;
  path: string;
  operation: string;
  perSecond: number;
}

/** Run `step` repeatedly for DURATION_MS (or `limit` times); return steps per second. */
async function rate(
  step: (i: number) => Promise<void>,
  limit = MAX_MESSAGES,
): Promise<{ perSecond: number; n: number }> {
  const start = performance.now();
  let n = 0;
  while (n < limit && performance.now() - start < DURATION_MS) await step(n++);
  return { perSecond: n / ((performance.now() - start) / 1000), n };
}

async function bareTsMls(cs: CiphersuiteImpl): Promise<{ encrypt: number; decrypt: number }> {
  const credential = (name: string) => ({ credentialType: 'basic' as const, identity: new TextEncoder().encode(name) });
  const a = await generateKeyPackage(credential('a'), defaultCapabilities(), defaultLifetime, [], cs);
  const b = await generateKeyPackage(credential('b'), defaultCapabilities(), defaultLifetime, [], cs);
  let alice: ClientState = await createGroup(
    new TextEncoder().encode('bench'),
    a.publicPackage,
    a.privatePackage,
    [],
    cs,
  );
  const commit = await createCommit(
    { state: alice, cipherSuite: cs },
    { extraProposals: [{ proposalType: 'add', add: { keyPackage: b.publicPackage } }], ratchetTreeExtension: true },
  );
  alice = commit.newState;
  let bob = await joinGroup(commit.welcome!, b.publicPackage, b.privatePackage, emptyPskIndex, cs);
  const sent: Awaited<ReturnType<typeof createApplicationMessage>>['privateMessage'][] = [];
  const enc = await rate(async () => {
    const r = await createApplicationMessage(alice, PAYLOAD, cs);
    alice = r.newState;
    sent.push(r.privateMessage);
  });
  const dec = await rate(async (i) => {
    const r = await processPrivateMessage(bob, sent[i]!, emptyPskIndex, cs);
    bob = r.newState;
  }, sent.length);
  return { encrypt: enc.perSecond, decrypt: dec.perSecond };
}

async function throughMemberClient(cs: CiphersuiteImpl): Promise<{ encrypt: number; decrypt: number }> {
  const options = { storage: new InMemoryMlsStorage(), cipherSuite: cs };
  const alice = await MemberClient.create(userUri(DOMAIN, 'alice'), options);
  const bob = await MemberClient.create(userUri(DOMAIN, 'bob'), options);
  const room = await RoomGroup.create(alice, {
    roomUri: roomUri(DOMAIN, 'bench'),
    hub: await HubExternalSender.generate(DOMAIN, cs),
    participants: [
      { user: alice.user, roleIndex: 2 },
      { user: bob.user, roleIndex: 2 },
    ],
  });
  const added = await room.addMembers([(await bob.createKeyPackage()).keyPackage]);
  await bob.joinFromWelcome(added.welcome!, added.ratchetTree);
  const sent: Uint8Array[] = [];
  const enc = await rate(async () => {
    sent.push(await alice.encrypt(room.groupId, PAYLOAD));
  });
  const dec = await rate(async (i) => {
    await bob.processMessage(sent[i]!);
  }, sent.length);
  return { encrypt: enc.perSecond, decrypt: dec.perSecond };
}

async function signatures(cs: CiphersuiteImpl): Promise<{ sign: number; verify: number }> {
  const { signKey, publicKey } = await cs.signature.keygen();
  const signature = await cs.signature.sign(signKey, PAYLOAD);
  const sign = await rate(async () => {
    await cs.signature.sign(signKey, PAYLOAD);
  });
  const verify = await rate(async () => {
    await cs.signature.verify(publicKey, PAYLOAD, signature);
  });
  return { sign: sign.perSecond, verify: verify.perSecond };
}

async function main(): Promise<void> {
  Logger.overrideLogger(['error', 'warn']);
  const rows: Row[] = [];
  for (const backend of [MlsCryptoBackend.Default, MlsCryptoBackend.Node]) {
    const cs = await mlsCiphersuite(backend);
    const sig = await signatures(cs);
    rows.push({ backend, path: 'Ed25519', operation: 'sign', perSecond: sig.sign });
    rows.push({ backend, path: 'Ed25519', operation: 'verify', perSecond: sig.verify });
    const bare = await bareTsMls(cs);
    rows.push({ backend, path: 'ts-mls', operation: 'encrypt', perSecond: bare.encrypt });
    rows.push({ backend, path: 'ts-mls', operation: 'decrypt', perSecond: bare.decrypt });
    const client = await throughMemberClient(cs);
    rows.push({ backend, path: 'MemberClient', operation: 'encrypt', perSecond: client.encrypt });
    rows.push({ backend, path: 'MemberClient', operation: 'decrypt', perSecond: client.decrypt });
  }
  const baseline = new Map(
    rows.filter((r) => r.backend === MlsCryptoBackend.Default).map((r) => [`${r.path}/${r.operation}`, r.perSecond]),
  );
  const out = process.stdout;
  out.write(`MLS ${PAYLOAD.length}-byte application messages, 2-member group, ${DURATION_MS} ms per row\n`);
  out.write(
    `${'backend'.padEnd(9)}${'path'.padEnd(14)}${'operation'.padEnd(10)}${'per second'.padStart(12)}  vs default\n`,
  );
  for (const r of rows) {
    const ratio = r.perSecond / (baseline.get(`${r.path}/${r.operation}`) ?? r.perSecond);
    out.write(
      `${r.backend.padEnd(9)}${r.path.padEnd(14)}${r.operation.padEnd(10)}${r.perSecond.toFixed(0).padStart(12)}  x${ratio.toFixed(2)}\n`,
    );
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
