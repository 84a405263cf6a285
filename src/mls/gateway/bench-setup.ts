/**
 * The groups `bench-scale.ts` measures: a hub gateway holding the bot and `locals - 1` puppets,
 * and a follower gateway holding the `members - locals` remote members (joined from the hub's
 * Welcome), both in memory. Helpers time and summarise.
 */
import type { UserUri } from '../../common/ids';
import type { Participant } from '../app-data';
import { InMemoryMlsStorage } from '../mls-storage';
import { CountingStorage, bot, groupIdOf, hubSender, participant, puppet, remote } from './gateway.fixtures';
import type { GatewayGroup } from './gateway-group';
import { GroupStore } from './group-store';

export const progress = (text: string): void => void process.stderr.write(`${text}\n`);

export const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const t0 = process.hrtime.bigint();
  const result = await fn();
  return { ms: ms(t0), result };
}

const pct = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

export const fmt = (x: number): string => (Number.isNaN(x) ? '-' : x >= 100 ? x.toFixed(0) : x.toFixed(1));

/** `p50 / p95` of `xs` in ms. */
export const p50p95 = (xs: readonly number[]): string => `${fmt(pct(xs, 50))} / ${fmt(pct(xs, 95))}`;

export interface BenchGroups {
  readonly hubStorage: CountingStorage;
  readonly hubStore: GroupStore;
  readonly hub: GatewayGroup;
  /** KeyPackages of remote joiners come from here. */
  readonly followerStore: GroupStore;
  /** Undefined when every member is local to the hub. */
  readonly follower?: GatewayGroup;
  /** The hub's local members: the bot, then the puppets. */
  readonly hubLocals: readonly UserUri[];
  participants: Participant[];
}

export async function benchGroups(members: number, locals: number): Promise<BenchGroups> {
  const hubStorage = new CountingStorage();
  const hubStore = new GroupStore(hubStorage);
  const followerStore = new GroupStore(new CountingStorage());
  const hub = await hubStore.createGroup({
    groupId: groupIdOf(`bench-${members}`),
    creator: bot(),
    hub: hubSender(),
    participants: [participant(bot())],
  });
  const puppets = Array.from({ length: locals - 1 }, (_, i) => puppet(i));
  const remotes = Array.from({ length: members - locals }, (_, i) => remote(i));
  const kps: Uint8Array[] = [];
  for (const u of remotes) kps.push((await followerStore.createKeyPackage(u)).keyPackage);
  const participants = [bot(), ...puppets, ...remotes].map(participant);
  const staged = await hub.commit(bot(), { addLocal: puppets, add: kps, participants });
  const follower = remotes.length > 0 ? await followerStore.joinFromWelcome(remotes, staged.welcome!) : undefined;
  return {
    hubStorage,
    hubStore,
    hub,
    followerStore,
    ...(follower ? { follower } : {}),
    hubLocals: [bot(), ...puppets],
    participants,
  };
}

/** A commit by the hub's bot, applied by the follower too; returns the hub's time in ms. */
export async function hubCommit(g: BenchGroups, changes: Parameters<GatewayGroup['commit']>[1]): Promise<number> {
  const { ms: t, result } = await timed(() => g.hub.commit(bot(), changes));
  const got = await g.follower?.processMessage(result.commit);
  if (got && got.kind !== 'commit') throw new Error(`follower: ${got.kind}`);
  return t;
}

/**
 * The gateway that receives the hub's messages: the follower, or when every member is local a
 * second gateway loaded from a copy of the hub's storage (the same group, the same members).
 */
export async function receiver(g: BenchGroups): Promise<GatewayGroup> {
  if (g.follower) return g.follower;
  const copy = new InMemoryMlsStorage();
  for (const key of await g.hubStorage.list('')) await copy.put(key, (await g.hubStorage.get(key))!);
  return (await new GroupStore(copy).group(g.hub.groupId))!;
}
