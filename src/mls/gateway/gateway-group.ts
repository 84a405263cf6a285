/**
 * One MLS group held by the gateway: ONE shared state (GroupContext, ratchet tree, transcript
 * hash, epoch secrets, the private tree keys local members know, the secret trees of the kept
 * epochs) and the set of local members (user → leaf). Every operation runs under the group's
 * lock and is written through to `MlsStorage` before it returns: per message one ratchet row,
 * per commit the epoch record and tree keys once for the whole group.
 */
import { MlsErrorReason, MlsGroupError } from '../mls.errors';
import type { UserUri } from '../../common/ids';
import {
  acceptProposal,
  applyCommitContent,
  createCommit,
  addLocalMemberFromWelcome,
  exportSecret,
  processCommit,
  processProposal,
  protect,
  unprotect,
  type CommitEffects,
  type CreatedCommit,
  type GroupState,
  type JoinerKeys,
  type LocalSigner,
  type ProcessedCommit,
  type ReceivedProposal,
} from '../core/group';
import { decodeMlsMessage } from '../core/framing';
import { ContentType, WireFormat, type MLSMessage } from '../core/structs';
import { bytesEqual } from '../core/tree-hash';
import { nextLocals, prepareChanges, registerJoiners, stagedCommitOf, type LocalJoiner } from './commit-changes';
import { digestOf, previewCommit, type CommitPreview } from './commit-preview';
import { b64url } from './keys';
import { pathFillOrder } from './path-fill';
import { RecentDigests } from './recent-digests';
import { deleteRatchetRows, EpochKeyRing } from './epoch-keys';
import type { GroupRecords } from './group-records';
import type { GroupDeps } from './group-deps';
import { groupInfoBundle, summarise, userAtLeaf } from './group-view';
import type { LocalMemberRecord } from './state-codec';
import type {
  GatewayChanges,
  GatewayGroupSummary,
  GatewayProcessed,
  GatewayStagedCommit,
  GroupInfoBundle,
} from './types';

const ECHO_MEMORY = 512;
/** Local members whose ratchets one locked step prepares. */
const PREPARE_CHUNK = 64;

interface Staged {
  readonly created: CreatedCommit;
  readonly committer: UserUri;
  readonly joiners: readonly LocalJoiner[];
  readonly out: GatewayStagedCommit;
}

export class GatewayGroup {
  private locals: Map<UserUri, LocalMemberRecord>;
  private staged?: Staged;
  private readonly sent = new RecentDigests(ECHO_MEMORY);
  /** The last commit `previewCommit` verified, applied as is if it comes in unchanged. */
  private previewed?: { digest: string; state: GroupState; processed: ProcessedCommit };
  private tail: Promise<unknown> = Promise.resolve();
  private running = 0;
  private gone = false;

  constructor(
    private readonly deps: GroupDeps,
    private state: GroupState,
    locals: readonly LocalMemberRecord[],
    private readonly ring: EpochKeyRing,
    private readonly records: GroupRecords,
  ) {
    this.locals = new Map(locals.map((l) => [l.user, l]));
  }

  get groupId(): Uint8Array {
    return this.state.context.groupId;
  }

  get epoch(): bigint {
    return this.state.context.epoch;
  }

  /** The shared core state (read-only; for diagnostics and adapters). */
  get coreState(): GroupState {
    return this.state;
  }

  /** Busy or holding a staged commit: must not be unloaded. */
  get pinned(): boolean {
    return this.running > 0 || this.staged !== undefined;
  }

  get removed(): boolean {
    return this.gone;
  }

  summary(): GatewayGroupSummary {
    return summarise(this.state, [...this.locals.values()], this.staged !== undefined);
  }

  isLocalMember(user: UserUri): boolean {
    return this.locals.has(user);
  }

  localMember(user: UserUri): LocalMemberRecord | undefined {
    return this.locals.get(user);
  }

  /** MLS-Exporter of the current epoch. */
  exportSecret(label: string, context: Uint8Array, length: number): Uint8Array {
    return exportSecret(this.state, label, context, length);
  }

  // ---- messages -----------------------------------------------------------------------------

  /** Application data from local member `user`; its sending ratchet is stored before this returns. */
  encrypt(user: UserUri, plaintext: Uint8Array, authenticatedData?: Uint8Array): Promise<Uint8Array> {
    return this.locked(async () => {
      const signer = await this.signer(user);
      const epoch = this.state.context.epoch;
      const keys = this.ring.keysFor(epoch)!;
      const leaf = signer.leafIndex;
      const group = b64url(this.groupId);
      // Never below what this leaf already sent in the epoch, whatever state was reloaded.
      const floor = this.deps.sent.floor(group, epoch, leaf);
      while (this.ring.sentIn(epoch, leaf) < floor) keys.next(leaf, 'application');
      const bytes = protect(this.state, keys, signer, plaintext, authenticatedData ? { authenticatedData } : {});
      this.deps.sent.record(group, epoch, leaf, this.ring.sentIn(epoch, leaf));
      await this.ring.save(this.deps.storage, this.groupId, epoch);
      this.rememberSent(bytes);
      this.deps.options.onMessageSent?.(this.groupId, user);
      return bytes;
    });
  }

  /** Process an incoming MLSMessage once for the whole group. */
  processMessage(bytes: Uint8Array): Promise<GatewayProcessed> {
    return this.locked(async () => {
      const digest = digestOf(bytes);
      if (this.sent.has(digest)) return { kind: 'echo', epoch: this.state.context.epoch };
      const message = decodeMlsMessage(bytes);
      if (message.wireFormat === WireFormat.mls_private_message) return this.processPrivate(message);
      if (message.wireFormat !== WireFormat.mls_public_message) {
        throw new MlsGroupError(MlsErrorReason.Malformed, `wire format ${message.wireFormat} is not a group message`);
      }
      const type = message.publicMessage.content.contentType;
      if (type === ContentType.proposal) return this.proposalReceived(processProposal(this.state, message));
      if (type !== ContentType.commit) {
        throw new MlsGroupError(MlsErrorReason.Malformed, 'application data in a PublicMessage');
      }
      if (this.staged && bytesEqual(this.staged.out.commit, bytes)) {
        const { out } = this.staged;
        await this.mergeLocked();
        return this.commitResult(out.effects, true, false, []);
      }
      const p = this.previewed;
      this.previewed = undefined;
      if (p?.digest === digest && p.state === this.state) return this.commitReceived(p.processed);
      return this.commitReceived(processCommit(this.state, message, this.commitOptions()));
    });
  }

  /**
   * Verify a received commit without applying it (the hub authorises a follower's commit first);
   * `processMessage` with the same bytes then applies this very result.
   */
  previewCommit(bytes: Uint8Array): Promise<CommitPreview> {
    return this.locked(async () => {
      const { preview, processed } = previewCommit(this.state, bytes, this.deps.options.policy);
      if (processed) this.previewed = { digest: digestOf(bytes), state: this.state, processed };
      return preview;
    });
  }

  private async processPrivate(message: MLSMessage): Promise<GatewayProcessed> {
    const u = unprotect(this.state, message as Parameters<typeof unprotect>[1], (e) => this.ring.keysFor(e));
    await this.ring.save(this.deps.storage, this.groupId, u.epoch);
    const c = u.content.content;
    if (c.contentType === ContentType.application) {
      const user = userAtLeaf(this.state, u.senderLeaf, u.epoch);
      return {
        kind: 'application',
        epoch: u.epoch,
        senderLeaf: u.senderLeaf,
        ...(user ? { sender: user } : {}),
        plaintext: c.applicationData,
        authenticatedData: c.authenticatedData,
      };
    }
    if (c.contentType === ContentType.proposal) return this.proposalReceived(acceptProposal(this.state, u.content));
    return this.commitReceived(applyCommitContent(this.state, u.content, this.commitOptions()));
  }

  private async proposalReceived(p: ReceivedProposal): Promise<GatewayProcessed> {
    this.state = p.state;
    await this.records.writeProposals(this.state);
    return {
      kind: 'proposal',
      epoch: this.state.context.epoch,
      sender: p.sender,
      proposalType: p.proposal.proposalType,
      ref: p.ref,
    };
  }

  private async commitReceived(processed: ProcessedCommit): Promise<GatewayProcessed> {
    const discarded = this.staged !== undefined;
    this.staged = undefined;
    const removedLocalUsers = this.usersAt(processed.effects.removedLocalLeaves);
    if (!processed.state) {
      await this.records.deleteAll();
      this.gone = true;
      this.locals = new Map();
      this.deps.onGone(this.groupId);
      return this.commitResult(processed.effects, false, discarded, removedLocalUsers);
    }
    await this.adopt(processed.state, []);
    return this.commitResult(processed.effects, false, discarded, removedLocalUsers);
  }

  private commitResult(
    effects: CommitEffects,
    ownCommit: boolean,
    discardedStagedCommit: boolean,
    removedLocalUsers: UserUri[],
  ): GatewayProcessed {
    const committer = userAtLeaf(this.state, effects.committerLeaf);
    return {
      kind: 'commit',
      epoch: this.gone ? this.state.context.epoch + 1n : this.state.context.epoch,
      committerLeaf: effects.committerLeaf,
      ...(committer ? { committer } : {}),
      ownCommit,
      discardedStagedCommit,
      effects,
      removedLocalUsers,
      groupGone: this.gone,
    };
  }

  // ---- own commits --------------------------------------------------------------------------

  /** A commit by local member `committer`; send it, then `mergeStagedCommit` or `discardStagedCommit`. */
  stageCommit(committer: UserUri, changes: GatewayChanges = {}): Promise<GatewayStagedCommit> {
    return this.locked(async () => {
      if (this.staged) throw new MlsGroupError(MlsErrorReason.CommitPending, 'a commit is already staged');
      const signer = await this.signer(committer);
      const again = (changes.addLocal ?? []).filter((u) => this.locals.has(u));
      if (again.length > 0) {
        throw new MlsGroupError(MlsErrorReason.Invalid, `already local members: ${again.join(', ')}`);
      }
      const prepared = await prepareChanges(this.state, changes, this.deps.identities, this.deps.now());
      const created = createCommit(this.state, {
        committer: signer,
        proposals: prepared.proposals,
        proposalRefs: changes.includePending === false ? [] : this.state.proposals.map((p) => p.ref),
        ...(changes.forcePath ? { forcePath: true } : {}),
        ...(changes.authenticatedData ? { authenticatedData: changes.authenticatedData } : {}),
        ratchetTreeInWelcome: this.deps.options.ratchetTreeInWelcome,
        // Local joiners are registered at merge: a Welcome only when someone else joins.
        welcome: prepared.localJoiners.length < prepared.joinerRefs.length,
        ...(this.deps.options.policy ? { policy: this.deps.options.policy } : {}),
      });
      const out = stagedCommitOf(committer, created, prepared.joinerRefs);
      this.staged = { created, committer, joiners: prepared.localJoiners, out };
      return out;
    });
  }

  mergeStagedCommit(): Promise<GatewayGroupSummary> {
    return this.locked(async () => {
      await this.mergeLocked();
      return this.summary();
    });
  }

  discardStagedCommit(): Promise<void> {
    return this.locked(async () => {
      this.staged = undefined;
    });
  }

  /** Stage and merge at once (the hub accepts its own commits). */
  async commit(committer: UserUri, changes: GatewayChanges = {}): Promise<GatewayStagedCommit> {
    const staged = await this.stageCommit(committer, changes);
    await this.locked(() => this.mergeLocked());
    return staged;
  }

  /** Local members whose leaf key is older than the configured age or message count. */
  rotationDue(): UserUri[] {
    const now = this.deps.now();
    const { leafKeyMaxAgeMs, leafKeyMaxMessages } = this.deps.options;
    return [...this.locals.values()]
      .filter((m) => {
        const sent = m.sentBefore + this.ring.sentIn(this.state.context.epoch, m.leafIndex);
        return now - m.leafKeySince >= leafKeyMaxAgeMs || sent >= leafKeyMaxMessages;
      })
      .map((m) => m.user);
  }

  /**
   * Local members whose rotation would give blank parent nodes of level `minLevel` or above keys
   * again, best first (`path-fill.ts`): after adds and removes, rotating them makes the next
   * path commits encrypt to one node per level instead of to nearly every leaf. At most `limit`.
   */
  pathFillCandidates(limit?: number, minLevel = 1): UserUri[] {
    const byLeaf = new Map([...this.locals.values()].map((m) => [m.leafIndex, m.user]));
    return pathFillOrder(this.state.tree, [...byLeaf.keys()], minLevel, limit).map((l) => byLeaf.get(l)!);
  }

  /** Stage an UpdatePath commit by `user` (fresh leaf and path keys); merge or discard it as usual. */
  rotateLeafKey(user: UserUri): Promise<GatewayStagedCommit> {
    return this.stageCommit(user, { forcePath: true, includePending: false });
  }

  private async mergeLocked(): Promise<void> {
    const staged = this.staged ?? mlsGroupFail(MlsErrorReason.NoCommitPending, 'no staged commit');
    this.staged = undefined;
    this.rememberSent(staged.out.commit);
    await this.adopt(staged.created.state, staged.joiners, staged.created.effects);
    for (const j of staged.joiners) if (j.storedRef) await this.deps.identities.consumeKeyPackage(j.user, j.storedRef);
  }

  /** Move to `next` (a new epoch): member records, key ring, one epoch write for the group. */
  private async adopt(next: GroupState, joiners: readonly LocalJoiner[], ownEffects?: CommitEffects): Promise<void> {
    const prev = this.state;
    const now = this.deps.now();
    let state = next;
    const added = ownEffects ? registerJoiners(state, ownEffects, joiners, now) : { state, added: [] };
    state = added.state;
    const locals = nextLocals(prev, state, this.locals.values(), now, (leaf) =>
      this.ring.sentIn(prev.context.epoch, leaf),
    );
    for (const a of added.added) locals.set(a.user, a);
    const active = [...locals.values()]
      .filter((m) => this.ring.sentIn(prev.context.epoch, m.leafIndex) > 0)
      .map((m) => m.leafIndex);
    this.state = state;
    this.locals = locals;
    const dropped = this.ring.advance(state);
    await this.records.writeEpoch(state, [...locals.values()]);
    await deleteRatchetRows(this.deps.storage, this.groupId, dropped);
    this.prepareRatchets(active);
  }

  /**
   * Soon after an epoch change, derive the sending ratchets of the local members who sent in the
   * previous epoch (`leaves`: likely to send again) in the new epoch's secret tree, a few at a
   * time under the lock, so that their first message of the epoch does not expand the tree.
   * Nothing is written (see `SecretTree.prepare`).
   */
  private prepareRatchets(leaves: readonly number[]): void {
    const epoch = this.state.context.epoch;
    const step = (from: number): void => {
      if (from >= leaves.length) return;
      setImmediate(() => {
        this.locked(async () => {
          if (this.state.context.epoch !== epoch) return false;
          this.ring.keysFor(epoch)?.prepare(leaves.slice(from, from + PREPARE_CHUNK));
          return true;
        }).then(
          (more) => more && step(from + PREPARE_CHUNK),
          () => undefined,
        );
      });
    };
    step(0);
  }

  /**
   * Register local users added by a commit this group already processed, from the Welcome that
   * added them (their path secrets join the shared private keys); one epoch write for all.
   */
  registerFromWelcome(
    joiners: readonly { user: UserUri; keys: JoinerKeys }[],
    welcome: MLSMessage,
  ): Promise<GatewayGroupSummary> {
    return this.locked(async () => {
      let state = this.state;
      const locals = new Map(this.locals);
      for (const { user, keys } of joiners) {
        if (locals.has(user)) continue;
        const joined = addLocalMemberFromWelcome(state, welcome, keys);
        state = joined.state;
        locals.set(user, { user, leafIndex: joined.leafIndex, leafKeySince: this.deps.now(), sentBefore: 0 });
      }
      if (state === this.state) return this.summary();
      this.state = state;
      this.locals = locals;
      await this.records.writeEpoch(this.state, [...this.locals.values()]);
      return this.summary();
    });
  }

  // ---- GroupInfo --------------------------------------------------------------------------------

  /** GroupInfo (external_pub, no tree) + ratchet tree, signed by `signer` or the lowest local leaf. */
  groupInfo(signer?: UserUri): Promise<GroupInfoBundle> {
    return this.locked(async () => {
      const user = signer ?? [...this.locals.values()].sort((a, b) => a.leafIndex - b.leafIndex)[0]?.user;
      if (user === undefined) throw new MlsGroupError(MlsErrorReason.NotMember, 'no local member left');
      return groupInfoBundle(this.state, await this.signer(user));
    });
  }

  // ---- helpers --------------------------------------------------------------------------------

  private commitOptions(): { policy?: NonNullable<GroupDeps['options']['policy']> } {
    return this.deps.options.policy ? { policy: this.deps.options.policy } : {};
  }

  private async signer(user: UserUri): Promise<LocalSigner> {
    if (this.gone) {
      throw new MlsGroupError(MlsErrorReason.RemovedFromGroup, 'the gateway has no member left in the group');
    }
    const m = this.locals.get(user) ?? mlsGroupFail(MlsErrorReason.NotMember, `${user} is not a local member`);
    const id =
      (await this.deps.identities.get(user)) ?? mlsGroupFail(MlsErrorReason.Storage, `no identity for ${user}`);
    return { leafIndex: m.leafIndex, signaturePrivateKey: id.signaturePrivateKey };
  }

  private usersAt(leaves: readonly number[]): UserUri[] {
    return [...this.locals.values()].filter((m) => leaves.includes(m.leafIndex)).map((m) => m.user);
  }

  private rememberSent(bytes: Uint8Array): void {
    this.sent.add(digestOf(bytes));
  }

  /**
   * Run `fn` alone. If it fails after the in-memory state moved (a write failed half-way), this
   * object is retired and the store forgets it: the next `store.group()` reloads what storage holds.
   */
  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      this.running++;
      const [state, locals] = [this.state, this.locals];
      try {
        if (this.gone) throw new MlsGroupError(MlsErrorReason.RemovedFromGroup, 'the group is gone or was unloaded');
        return await fn();
      } catch (e) {
        if (this.state !== state || this.locals !== locals) {
          this.gone = true;
          this.deps.onGone(this.groupId);
        }
        throw e;
      } finally {
        this.running--;
      }
    };
    const result = this.tail.then(run, run);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

function mlsGroupFail(reason: MlsErrorReason, message: string): never {
  throw new MlsGroupError(reason, message);
}
