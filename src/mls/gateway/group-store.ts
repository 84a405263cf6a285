/**
 * The gateway's MLS groups: lazily loaded from `MlsStorage`, at most `maxLoadedGroups` in memory
 * (least recently used ones unloaded), and unloaded after an idle time by `unloadIdle` (`GroupCache`),
 * plus the per-user identities and KeyPackages.
 * Creating, joining (Welcome, external commit) and forgetting groups happen here; everything
 * inside a group is `GatewayGroup`'s.
 */
import type { UserUri } from '../../common/ids';
import { ValidationError } from '../../common/errors';
import type { ComponentData, Participant } from '../app-data';
import { cipherSuiteById, signWithLabel, type CipherSuite } from '../core/crypto';
import {
  createGroup,
  DEFAULT_GROUP_OPTIONS,
  joinByExternalCommit,
  joinFromWelcome,
  propose,
  type JoinerKeys,
} from '../core/group';
import { defaultCapabilities } from '../core/key-package';
import { RatchetTree } from '../core/ratchet-tree';
import {
  decodeMlsMessageAs,
  groupInfoCodec,
  welcomeCodec,
  WireFormat,
  type Extension,
  type ExternalSender,
  type GroupInfo,
  type MLSMessage,
  type Welcome,
} from '../core/structs';
import { decodeAll } from '../../codec/tls-codec';
import { MlsErrorReason, MlsGroupError } from '../mls.errors';
import type { MlsStorage } from '../mls-storage';
import { encodeParticipantList, MimiComponentId } from '../app-data';
import { EpochKeyRing } from './epoch-keys';
import { GroupCache } from './group-cache';
import { GatewayGroup } from './gateway-group';
import type { GroupDeps, ResolvedOptions } from './group-deps';
import { deleteGroupRecords, GroupRecords } from './group-records';
import type { LocalMemberRecord } from './state-codec';
import { checkKeyPackage, Identities, type PublishedKeyPackage } from './identities';
import { b64url, ownerOfKey } from './keys';
import { SentGenerations } from './sent-generations';
import { roomExtensions } from './room-extensions';
import { welcomeGroupId } from './welcome-peek';
import type { GatewayOptions } from './types';

/** MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519. */
const GATEWAY_CIPHER_SUITE = 1;

export interface CreateRoomGroupInput {
  readonly groupId: Uint8Array;
  /** The local user who creates the group (its first member; the hub's bot on a hub). */
  readonly creator: UserUri;
  /** The hub's external sender(s). */
  readonly hub: ExternalSender | readonly ExternalSender[];
  readonly participants: readonly Participant[];
  /** More app_data_dictionary components (room metadata, room policy). */
  readonly components?: readonly ComponentData[];
  /** More GroupContext extensions. */
  readonly extensions?: readonly Extension[];
}

export interface ExternalJoinResult {
  readonly group: GatewayGroup;
  /** MLSMessage (PublicMessage) for the hub; if the hub refuses it, `forget` + `deleteGroup`. */
  readonly commit: Uint8Array;
  readonly leafIndex: number;
}

interface UncommittedOwners {
  readonly groups: Set<string>;
  readonly users: Set<string>;
}

export class GroupStore {
  readonly identities: Identities;
  readonly suite: CipherSuite;
  private readonly deps: GroupDeps;
  private readonly groups: GroupCache<GatewayGroup>;
  private readonly uncommittedKeys: () => Iterable<string>;
  /** `uncommittedOwners()` fixed for the length of one synchronous sweep. */
  private ownersDuringSweep?: UncommittedOwners;

  constructor(
    readonly storage: MlsStorage,
    options: GatewayOptions = {},
  ) {
    this.suite = cipherSuiteById(GATEWAY_CIPHER_SUITE);
    const now = options.now ?? Date.now;
    const idleClock = options.idleClock ?? now;
    this.uncommittedKeys = options.uncommittedKeys ?? (() => []);
    this.identities = new Identities(storage, this.suite, now, {
      idleClock,
      keep: (user) => this.uncommittedOwners().users.has(user),
    });
    const resolved: ResolvedOptions = {
      leafKeyMaxAgeMs: options.leafKeyMaxAgeMs ?? 7 * 24 * 3600 * 1000,
      leafKeyMaxMessages: options.leafKeyMaxMessages ?? 10_000,
      pastEpochs: options.pastEpochs ?? DEFAULT_GROUP_OPTIONS.pastEpochs,
      maxLoadedGroups: options.maxLoadedGroups ?? 256,
      ratchetTreeInWelcome: options.ratchetTreeInWelcome ?? true,
      ...(options.policy ? { policy: options.policy } : {}),
      ...(options.onMessageSent ? { onMessageSent: options.onMessageSent } : {}),
    };
    this.deps = {
      storage,
      identities: this.identities,
      suite: this.suite,
      options: resolved,
      now,
      sent: new SentGenerations(resolved.pastEpochs + 1),
      onGone: (groupId) => this.forget(groupId),
    };
    this.groups = new GroupCache({
      maxLoaded: resolved.maxLoadedGroups,
      now: idleClock,
      keep: (key) => this.uncommittedOwners().groups.has(key),
    });
  }

  /** Groups currently in memory. */
  get loadedCount(): number {
    return this.groups.size;
  }

  /** The groups in memory now (a periodic check visits these, not every group in storage). */
  loadedGroups(): GatewayGroup[] {
    return this.groups.loaded();
  }

  /**
   * Unload the groups and identities not used for `idleMs` (by `idleClock`); they are read back
   * from storage on next use. Busy groups, groups with a staged commit and state written by a
   * transaction still open stay; what each local leaf sent stays recorded (`SentGenerations`), so
   * a reloaded group never sends with a generation used before.
   */
  unloadIdle(idleMs: number): { groups: number; identities: number } {
    this.ownersDuringSweep = this.uncommittedOwners();
    try {
      return { groups: this.groups.unloadIdle(idleMs), identities: this.identities.unloadIdle(idleMs) };
    } finally {
      this.ownersDuringSweep = undefined;
    }
  }

  /** The groups (base64url ids) and users whose state transactions still open wrote. */
  private uncommittedOwners(): UncommittedOwners {
    if (this.ownersDuringSweep !== undefined) return this.ownersDuringSweep;
    const owners: UncommittedOwners = { groups: new Set(), users: new Set() };
    for (const key of this.uncommittedKeys()) {
      const owner = ownerOfKey(key);
      if (owner?.group !== undefined) owners.groups.add(owner.group);
      if (owner?.user !== undefined) owners.users.add(owner.user);
    }
    return owners;
  }

  // ---- KeyPackages ------------------------------------------------------------------------------

  /** A KeyPackage for `user` (identity made on first use); its private keys are stored until used once. */
  async createKeyPackage(user: UserUri): Promise<PublishedKeyPackage> {
    const { keys: _keys, ...published } = await this.identities.newKeyPackage(user);
    return published;
  }

  /** §10.1 validation of a received KeyPackage (bare or MLSMessage); returns its user and ref. */
  checkKeyPackage(bytes: Uint8Array): { user: UserUri; ref: Uint8Array } {
    const { user, ref } = checkKeyPackage(bytes, this.deps.now());
    return { user, ref };
  }

  /** SignWithLabel (RFC 9420 §5.1.2) with `user`'s signature key, e.g. for GroupInfoRequestTBS. */
  async signWithLabel(user: UserUri, label: string, content: Uint8Array): Promise<Uint8Array> {
    const id = await this.identities.getOrCreate(user);
    return signWithLabel(this.suite, id.signaturePrivateKey, label, content);
  }

  // ---- groups -----------------------------------------------------------------------------------

  /** The group if it is in memory now, without counting as a use (which keeps it loaded). */
  loadedGroup(groupId: Uint8Array): GatewayGroup | undefined {
    return this.groups.peek(b64url(groupId));
  }

  /** The group, loaded from storage on first use; undefined if the gateway holds no such group. */
  group(groupId: Uint8Array): Promise<GatewayGroup | undefined> {
    return this.groups.get(b64url(groupId), () => this.load(groupId));
  }

  async requireGroup(groupId: Uint8Array): Promise<GatewayGroup> {
    const g = await this.group(groupId);
    if (!g) throw new MlsGroupError(MlsErrorReason.UnknownGroup, `no group ${b64url(groupId)}`);
    return g;
  }

  async hasGroup(groupId: Uint8Array): Promise<boolean> {
    return (await this.group(groupId)) !== undefined;
  }

  /** A new room group with `creator` as its only member. */
  async createGroup(input: CreateRoomGroupInput): Promise<GatewayGroup> {
    if (await this.hasGroup(input.groupId)) throw new ValidationError(`group ${b64url(input.groupId)} exists`);
    if (!input.participants.some((p) => p.user === input.creator)) {
      throw new ValidationError(`the creator ${input.creator} must be a participant`);
    }
    const kp = await this.identities.newKeyPackage(input.creator, { persist: false });
    const id = (await this.identities.get(input.creator))!;
    const state = createGroup({
      suite: this.suite,
      groupId: input.groupId,
      extensions: [...roomExtensions(input.hub, input.participants, input.components), ...(input.extensions ?? [])],
      creator: {
        leafNode: kp.keys.keyPackage.leafNode,
        encryptionPrivateKey: kp.keys.encryptionPrivateKey,
        signaturePrivateKey: id.signaturePrivateKey,
      },
      options: { pastEpochs: this.deps.options.pastEpochs },
    });
    return this.install(state, [{ user: input.creator, leafIndex: 0, leafKeySince: this.deps.now(), sentBefore: 0 }]);
  }

  /**
   * `user` (or several local users added by the same commit) join by a Welcome naming their
   * published KeyPackages (each used once, then deleted). A group the gateway already holds gets
   * the users registered into its shared state (one epoch write); otherwise the first user's
   * full join creates it.
   */
  async joinFromWelcome(
    users: UserUri | readonly UserUri[],
    welcome: Uint8Array,
    ratchetTree?: Uint8Array,
  ): Promise<GatewayGroup> {
    const message = welcomeMessage(welcome);
    const found: { user: UserUri; ref: Uint8Array; keys: JoinerKeys }[] = [];
    for (const user of typeof users === 'string' ? [users] : users) {
      const hit = await this.keysForWelcome(user, message.welcome);
      if (!hit) throw new MlsGroupError(MlsErrorReason.NoMatchingKeyPackage, `no KeyPackage of ${user} in the Welcome`);
      found.push({ user, ...hit });
    }
    const first = found[0] ?? mlsGroupFail('no user to join');
    const peeked = welcomeGroupId(message.welcome, first.keys);
    let group = peeked === undefined ? undefined : await this.group(peeked);
    let rest = found;
    if (!group) {
      const joined = joinFromWelcome(message, first.keys, {
        ...(ratchetTree ? { ratchetTree: RatchetTree.fromBytes(ratchetTree) } : {}),
        options: { pastEpochs: this.deps.options.pastEpochs },
      });
      const record = { user: first.user, leafIndex: joined.leafIndex, leafKeySince: this.deps.now(), sentBefore: 0 };
      group = await this.install(joined.state, [record]);
      rest = found.slice(1);
    }
    if (rest.length > 0) await group.registerFromWelcome(rest, message);
    for (const f of found) await this.identities.consumeKeyPackage(f.user, f.ref);
    return group;
  }

  /**
   * `user` joins by external commit from a GroupInfo (bare or MLSMessage), with its own
   * AppDataUpdate of the participant list when `participants` is given. The new state is held at
   * once; if the hub refuses the commit, call `deleteGroup`.
   */
  async joinExternal(
    user: UserUri,
    groupInfo: Uint8Array,
    options: { ratchetTree?: Uint8Array; participants?: readonly Participant[] } = {},
  ): Promise<ExternalJoinResult> {
    const info = groupInfoOf(groupInfo);
    if (await this.hasGroup(info.groupContext.groupId)) {
      throw new ValidationError('the gateway already holds this group: add the user with a commit instead');
    }
    const id = await this.identities.getOrCreate(user);
    const created = joinByExternalCommit(
      info,
      {
        leafFields: {
          signatureKey: id.signatureKey,
          credential: id.credential,
          capabilities: defaultCapabilities(),
          extensions: [],
        },
        signaturePrivateKey: id.signaturePrivateKey,
      },
      {
        ...(options.ratchetTree ? { ratchetTree: RatchetTree.fromBytes(options.ratchetTree) } : {}),
        ...(options.participants
          ? {
              extraProposals: [
                propose.appDataUpdate(MimiComponentId.ParticipantList, encodeParticipantList(options.participants)),
              ],
            }
          : {}),
        groupOptions: { pastEpochs: this.deps.options.pastEpochs },
        ...(this.deps.options.policy ? { policy: this.deps.options.policy } : {}),
      },
    );
    const group = await this.install(created.state, [
      { user, leafIndex: created.leafIndex, leafKeySince: this.deps.now(), sentBefore: 0 },
    ]);
    return { group, commit: created.commitMessage, leafIndex: created.leafIndex };
  }

  /** Drop a group from memory (e.g. after a rolled-back transaction); it reloads on next use. */
  forget(groupId: Uint8Array): void {
    this.groups.forget(b64url(groupId));
  }

  /** Drop what cached state the written `keys` belong to (RoomTransactions.onRollback). */
  forgetTouched(keys: Iterable<string>): void {
    for (const key of keys) {
      const owner = ownerOfKey(key);
      if (owner?.group !== undefined) this.groups.forget(owner.group);
      if (owner?.user !== undefined) this.identities.forget(owner.user);
    }
  }

  /** Delete every record of a group and forget it. */
  async deleteGroup(groupId: Uint8Array): Promise<void> {
    this.forget(groupId);
    this.deps.sent.drop(b64url(groupId));
    await deleteGroupRecords(this.storage, groupId);
  }

  // ---- internals --------------------------------------------------------------------------------

  private async load(groupId: Uint8Array): Promise<GatewayGroup | undefined> {
    const stored = await GroupRecords.read(this.storage, groupId);
    if (!stored) return undefined;
    const ring = await EpochKeyRing.load(this.storage, this.suite, stored.state);
    return new GatewayGroup(this.deps, stored.state, stored.locals, ring, stored.records);
  }

  private async install(state: GatewayGroup['coreState'], locals: readonly LocalMemberRecord[]): Promise<GatewayGroup> {
    const records = GroupRecords.fresh(this.storage, state.context.groupId);
    await records.writeEpoch(state, locals);
    const group = new GatewayGroup(this.deps, state, locals, EpochKeyRing.fresh(this.suite, state), records);
    this.groups.put(b64url(state.context.groupId), group);
    return group;
  }

  private async keysForWelcome(
    user: UserUri,
    welcome: Welcome,
  ): Promise<{ ref: Uint8Array; keys: JoinerKeys } | undefined> {
    for (const s of welcome.secrets) {
      const keys = await this.identities.keyPackageKeys(user, s.newMember);
      if (keys) return { ref: s.newMember, keys };
    }
    return undefined;
  }
}

function mlsGroupFail(message: string): never {
  throw new ValidationError(message);
}

function welcomeMessage(
  bytes: Uint8Array,
): MLSMessage & { wireFormat: typeof WireFormat.mls_welcome; welcome: Welcome } {
  try {
    return decodeMlsMessageAs(bytes, WireFormat.mls_welcome) as ReturnType<typeof welcomeMessage>;
  } catch {
    return { version: 1, wireFormat: WireFormat.mls_welcome, welcome: decodeAll(bytes, welcomeCodec) };
  }
}

function groupInfoOf(bytes: Uint8Array): GroupInfo {
  try {
    return decodeMlsMessageAs(bytes, WireFormat.mls_group_info).groupInfo;
  } catch {
    return decodeAll(bytes, groupInfoCodec);
  }
}
