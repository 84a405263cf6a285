/**
 * Fixtures for the gateway layer's specs and bench: a byte-counting `MlsStorage`, user names, a
 * hub key, a group with N local puppets and M remote members. Not used by production code.
 */
import { setImmediate as tick } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type ProviderDomain, type UserUri, userUri } from '../../common/ids';
import type { Participant } from '../app-data';
import { cipherSuiteById } from '../core/crypto';
import type { ExternalSender } from '../core/structs';
import { InMemoryMlsStorage, type MlsStorage } from '../mls-storage';
import { GroupStore } from './group-store';
import type { GatewayGroup } from './gateway-group';
import { hubExternalSender } from './room-extensions';
import type { GatewayOptions } from './types';

export const HUB = 'hub.example' as ProviderDomain;
export const FOLLOWER = 'follower.example' as ProviderDomain;
const ROLE_MEMBER = 2;
export const TEXT = new TextEncoder();
export const UTF8 = new TextDecoder();

export const bot = (domain: ProviderDomain = HUB): UserUri => userUri(domain, 'gateway-bot');
export const puppet = (i: number, domain: ProviderDomain = HUB): UserUri => userUri(domain, `puppet${i}`);
export const remote = (i: number, domain: ProviderDomain = FOLLOWER): UserUri => userUri(domain, `user${i}`);
export const participant = (user: UserUri): Participant => ({ user, roleIndex: ROLE_MEMBER });
export const groupIdOf = (name: string): Uint8Array => TEXT.encode(`mimi://${HUB}/g/${name}`);

/** `MlsStorage` that counts what is written (value bytes + key bytes) and read. */
export class CountingStorage implements MlsStorage {
  readonly inner: InMemoryMlsStorage;
  written = 0;
  writes = 0;
  reads = 0;

  constructor(inner: InMemoryMlsStorage = new InMemoryMlsStorage()) {
    this.inner = inner;
  }

  get(key: string): Promise<Uint8Array | undefined> {
    this.reads++;
    return this.inner.get(key);
  }

  put(key: string, value: Uint8Array): Promise<void> {
    this.written += value.length + key.length;
    this.writes++;
    return this.inner.put(key, value);
  }

  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }

  list(prefix: string): Promise<string[]> {
    return this.inner.list(prefix);
  }

  /** Bytes written while `fn` runs. */
  async measure<T>(fn: () => Promise<T>): Promise<{ bytes: number; writes: number; result: T }> {
    const [b, w] = [this.written, this.writes];
    const result = await fn();
    return { bytes: this.written - b, writes: this.writes - w, result };
  }
}

/** A hub signature key as an external sender. */
export function hubSender(): ExternalSender {
  return hubKey().sender;
}

/** A hub signature key pair: the external sender and its private key. */
export function hubKey(): { sender: ExternalSender; privateKey: Uint8Array } {
  const kp = cipherSuiteById(1).signatureGenerateKeyPair();
  return { sender: hubExternalSender(HUB, kp.publicKey), privateKey: kp.privateKey };
}

export interface ScaledGroup {
  readonly hub: GroupStore;
  readonly follower: GroupStore;
  readonly hubStorage: CountingStorage;
  readonly followerStorage: CountingStorage;
  readonly group: GatewayGroup;
  /** The follower's view (undefined when `remotes` is 0). */
  readonly followerGroup?: GatewayGroup;
  readonly locals: UserUri[];
  readonly remotes: UserUri[];
}

/**
 * A group created by the hub's bot with `locals` puppets added in one commit and `remotes` users
 * of the follower added by KeyPackage in another; the follower joins from the Welcome (its first
 * remote user by Welcome, the others registered from the same Welcome).
 */
export async function scaledGroup(
  name: string,
  locals: number,
  remotes: number,
  options: GatewayOptions = {},
): Promise<ScaledGroup> {
  const hubStorage = new CountingStorage();
  const followerStorage = new CountingStorage();
  const hub = new GroupStore(hubStorage, options);
  const follower = new GroupStore(followerStorage, options);
  const localUsers = Array.from({ length: locals }, (_, i) => puppet(i));
  const remoteUsers = Array.from({ length: remotes }, (_, i) => remote(i));
  const group = await hub.createGroup({
    groupId: groupIdOf(name),
    creator: bot(),
    hub: hubSender(),
    participants: [participant(bot())],
  });
  const all = [bot(), ...localUsers, ...remoteUsers].map(participant);
  if (locals > 0) await group.commit(bot(), { addLocal: localUsers, participants: all.slice(0, 1 + locals) });
  let followerGroup: GatewayGroup | undefined;
  if (remotes > 0) {
    const kps = [];
    for (const u of remoteUsers) kps.push((await follower.createKeyPackage(u)).keyPackage);
    const staged = await group.commit(bot(), { add: kps, participants: all });
    followerGroup = await follower.joinFromWelcome(remoteUsers, staged.welcome!);
  }
  return {
    hub,
    follower,
    hubStorage,
    followerStorage,
    group,
    ...(followerGroup ? { followerGroup } : {}),
    locals: localUsers,
    remotes: remoteUsers,
  };
}

/** A full GC, so that WeakRefs to what nothing holds any more are cleared (tests of unloading). */
export async function collectGarbage(): Promise<void> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  await tick(); // WeakRef targets read in this job stay alive until it ends
  gc();
  await tick();
}
