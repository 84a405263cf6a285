/**
 * Application messages for `bench-scale.ts`: protected at the hub by its local members and
 * unprotected by the follower gateway (storage writes included, in memory), next to node:crypto's
 * Ed25519 sign+verify measured right before, on 200 bytes and on as many bytes as a message's
 * signature covers in this group (RFC 9420 §6.1 signs the whole GroupContext, which holds the
 * participant list: about 34 KB at 1,000 members, hashed three times by Ed25519).
 *
 * - first: every local member's first message of a fresh epoch, once when most of them did not
 *   send in the epoch before, then when all did (the hub prepared their ratchets);
 * - steady: then `messages` more, round robin over the same senders.
 * A warm-up from a few senders runs before, so the JIT is not measured.
 */
import { generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { contextBytes } from '../core/group/common';
import type { UserUri } from '../../common/ids';
import type { GatewayGroup } from './gateway-group';
import { hubCommit, ms, receiver, type BenchGroups } from './bench-setup';

const PAYLOAD = new Uint8Array(200).fill(0x61);
/** Bytes of SignContent around the GroupContext for an application message (label, TBS head). */
const SIGNED_OVERHEAD = 280;

export interface MessageFigures {
  contextBytes: number;
  /** First message of senders who did not send in the epoch before (ratchets not prepared). */
  firstIdle: number;
  /** First message of senders who sent in the epoch before. */
  first: number;
  steady: number;
  /** Ed25519 sign+verify pairs/s on 200 bytes, and on this group's signed length. */
  signVerify: number;
  signVerifyAtSize: number;
  messageBytes: number;
}

/** Milliseconds `to` takes to unprotect `count` messages protected at the hub, round robin over `senders`. */
async function pairsMs(g: BenchGroups, to: GatewayGroup, senders: readonly UserUri[], count: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const ct = await g.hub.encrypt(senders[i % senders.length]!, PAYLOAD);
    const got = await to.processMessage(ct);
    if (got.kind !== 'application') throw new Error(`message ${i}: ${got.kind}`);
  }
  return ms(t0);
}

/** Ed25519 sign+verify over `size` random bytes, for about `budgetMs`: pairs done and ms taken. */
function signVerifyRun(size: number, budgetMs: number): { n: number; ms: number } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const msg = randomBytes(size);
  let n = 0;
  const t0 = process.hrtime.bigint();
  while (ms(t0) < budgetMs) {
    if (!verify(null, msg, publicKey, sign(null, msg, privateKey))) throw new Error('verify');
    n++;
  }
  return { n, ms: ms(t0) };
}

/** Rates accumulated over slices that alternate with the measured work (same machine load). */
class Rate {
  private n = 0;
  private t = 0;
  add(n: number, t: number): void {
    this.n += n;
    this.t += t;
  }
  get perSecond(): number {
    return this.n / (this.t / 1000);
  }
}

const FIRST_MESSAGES = 100;
const SLICES = 8;

export async function messageFigures(g: BenchGroups, messages: number, baselineMs: number): Promise<MessageFigures> {
  const senders = g.hubLocals;
  await pairsMs(g, await receiver(g), senders.slice(0, 10), 300);
  const gc = contextBytes(g.hub.coreState.context).length;
  const [firstIdle, first, steady, sv, svAtSize] = [new Rate(), new Rate(), new Rate(), new Rate(), new Rate()];
  const baseline = (budget: number): void => {
    const a = signVerifyRun(200, budget);
    sv.add(a.n, a.ms);
    const b = signVerifyRun(gc + SIGNED_OVERHEAD, budget);
    svAtSize.add(b.n, b.ms);
  };
  // Each round starts a fresh epoch: every sender's first message in it. Idle rounds follow two
  // commits, so no sender sent in the epoch before; in the other rounds all did, and the hub
  // prepared their ratchets after the commit (`GatewayGroup.prepareRatchets`).
  const perKind = Math.ceil(FIRST_MESSAGES / senders.length);
  let to = await receiver(g);
  for (let r = 0; r < 2 * perKind; r++) {
    const idle = r % 2 === 0;
    if (idle) await hubCommit(g, { participants: g.participants });
    await hubCommit(g, { participants: g.participants });
    to = await receiver(g);
    await new Promise((resolve) => setTimeout(resolve, 20));
    (idle ? firstIdle : first).add(senders.length, await pairsMs(g, to, senders, senders.length));
    baseline(baselineMs / (4 * perKind));
  }
  const before = g.hubStorage.written;
  const slice = Math.ceil(messages / SLICES);
  for (let k = 0; k < SLICES; k++) {
    steady.add(slice, await pairsMs(g, to, senders, slice));
    baseline(baselineMs / SLICES);
  }
  return {
    contextBytes: gc,
    firstIdle: firstIdle.perSecond,
    first: first.perSecond,
    steady: steady.perSecond,
    signVerify: sv.perSecond,
    signVerifyAtSize: svAtSize.perSecond,
    messageBytes: (g.hubStorage.written - before) / (slice * SLICES),
  };
}
