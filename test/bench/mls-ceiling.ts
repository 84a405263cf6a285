/**
 * The crypto ceiling of the rooms bench (issue 12): the MLS work one delivered room message costs,
 * measured in this process, without network, database or rendering: the hub protects the bench's
 * message as a PrivateMessage (Ed25519 signature, AEAD) and a follower gateway unprotects it
 * (verify, AEAD open), one after the other, in in-memory group stores. Fan-out through the
 * gateways cannot go faster than this on one core, so the bench prints its rates against it too.
 */
import { type RoomUri, type UserUri, userUri } from '../../src/common/ids';
import { buildTextMessage, encodeMimiContentWithId } from '../../src/mimi/content';
import { GroupStore, InMemoryMlsStorage, groupIdForRoom } from '../../src/mls';
import { cipherSuiteById } from '../../src/mls/core/crypto';
import { hubExternalSender } from '../../src/mls/gateway/room-extensions';
import type { ProviderDomain } from '../../src/common/ids';

const MEMBER_ROLE = 2;
const WARMUP = 200;
/** Messages protected, then unprotected, at a time (a follower's backlog). */
const SLICE = 100;

export interface CeilingFigures {
  /** protect + unprotect, one after the other (one core). */
  readonly pairsPerSecond: number;
  /** protect alone (the hub's share) and unprotect alone (a follower's share). */
  readonly protectPerSecond: number;
  readonly unprotectPerSecond: number;
  readonly count: number;
}

/**
 * protect at the hub + unprotect at a follower, `count` times, of a text message like the bench's
 * (`sample`), in a room of the hub's bot, its sender and one remote member.
 */
export async function mlsCeiling(
  hubDomain: string,
  followerDomain: string,
  sample: string,
  count: number,
): Promise<CeilingFigures> {
  const hub = hubDomain as ProviderDomain;
  const follower = followerDomain as ProviderDomain;
  const roomUri = `mimi://${hub}/r/ceiling` as RoomUri;
  const bot = userUri(hub, 'gateway-bot');
  const sender = userUri(hub, 'alice');
  const reader = userUri(follower, 'reader');
  const hubStore = new GroupStore(new InMemoryMlsStorage());
  const followerStore = new GroupStore(new InMemoryMlsStorage());
  const hubKey = cipherSuiteById(1).signatureGenerateKeyPair();
  const participant = (user: UserUri) => ({ user, roleIndex: MEMBER_ROLE });
  const group = await hubStore.createGroup({
    groupId: groupIdForRoom(roomUri),
    creator: bot,
    hub: hubExternalSender(hub, hubKey.publicKey),
    participants: [participant(bot)],
  });
  const kp = (await followerStore.createKeyPackage(reader)).keyPackage;
  const staged = await group.commit(bot, {
    addLocal: [sender],
    add: [kp],
    participants: [bot, sender, reader].map(participant),
  });
  const joined = await followerStore.joinFromWelcome(reader, staged.welcome!);
  const plaintext = encodeMimiContentWithId(
    buildTextMessage({ senderUri: sender, roomUri, text: sample }),
    sender,
    roomUri,
  ).bytes;
  const slice = async (n: number): Promise<{ protectMs: number; unprotectMs: number }> => {
    const t0 = performance.now();
    const cts: Uint8Array[] = [];
    for (let i = 0; i < n; i++) cts.push(await group.encrypt(sender, plaintext));
    const t1 = performance.now();
    for (const ct of cts) {
      const got = await joined.processMessage(ct);
      if (got.kind !== 'application') throw new Error(`unprotect gave ${got.kind}`);
    }
    return { protectMs: t1 - t0, unprotectMs: performance.now() - t1 };
  };
  await slice(WARMUP);
  let protectMs = 0;
  let unprotectMs = 0;
  for (let done = 0; done < count; done += SLICE) {
    const t = await slice(Math.min(SLICE, count - done));
    protectMs += t.protectMs;
    unprotectMs += t.unprotectMs;
  }
  return {
    pairsPerSecond: (count / (protectMs + unprotectMs)) * 1000,
    protectPerSecond: (count / protectMs) * 1000,
    unprotectPerSecond: (count / unprotectMs) * 1000,
    count,
  };
}
