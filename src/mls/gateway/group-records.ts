/**
 * Reading and writing one group's records (`keys.ts`), incrementally: a commit writes the tree
 * nodes, private keys and local members that changed (O(log n) rows for a path), the
 * GroupContext extensions only when they changed, and a small epoch record; unchanged rows are
 * not touched. `GroupRecords` remembers what storage holds (by node object identity, since
 * nodes are immutable) to find the changes without reading anything back.
 *
 * The rows of one commit are written in the caller's transaction (`DbMlsStorage` joins the room
 * transaction); a loaded group is checked against its epoch record's tree hash, so rows of
 * different epochs are refused with a clear error rather than used.
 */
import { createHash } from 'node:crypto';
import type { UserUri } from '../../common/ids';
import type { KeyPair } from '../core/crypto';
import { cipherSuiteById } from '../core/crypto';
import type { GroupState } from '../core/group';
import { nodeEncryptionKey, RatchetTree } from '../core/ratchet-tree';
import type { Extension, Node } from '../core/structs';
import { bytesEqual, treeHash } from '../core/tree-hash';
import { MlsErrorReason, MlsGroupError } from '../mls.errors';
import { readAll, type MlsStorage } from '../mls-storage';
import { gatewayKeys } from './keys';
import {
  changedKeys,
  decodeEpochRecord,
  decodeExtensions,
  decodeKeyPair,
  decodeLocalMember,
  decodeNode,
  decodeProposals,
  encodeEpochRecord,
  encodeExtensions,
  encodeKeyPair,
  encodeLocalMember,
  encodeNode,
  encodeProposals,
  pastEpochsOf,
  type LocalMemberRecord,
  type PastEpochRecord,
} from './state-codec';

export interface StoredGroup {
  readonly state: GroupState;
  readonly locals: LocalMemberRecord[];
  readonly records: GroupRecords;
}

/** What one write did (tests and benches count it). */
export interface WriteStats {
  readonly bytes: number;
  readonly rows: number;
  readonly deleted: number;
}

/** Extension hashes, per extensions array (contexts of successive epochs share theirs). */
const extensionHashes = new WeakMap<readonly Extension[], { hash: string; bytes: Uint8Array }>();

function extensionsRow(extensions: readonly Extension[]): { hash: string; bytes: Uint8Array } {
  let row = extensionHashes.get(extensions);
  if (row === undefined) {
    const bytes = encodeExtensions(extensions);
    row = { hash: createHash('sha256').update(bytes).digest('base64url'), bytes };
    extensionHashes.set(extensions, row);
  }
  return row;
}

function signatureKeys(tree: RatchetTree): (Uint8Array | undefined)[] {
  const out = new Array<Uint8Array | undefined>(tree.leafCount);
  for (const [i, leaf] of tree.leaves()) out[i] = leaf.signatureKey;
  return out;
}

/**
 * Rows of one kind (`node/`, `pk/`, `local/`), versioned by epoch: row `<id>` of epoch e is the
 * key `<prefix><id>/<e>`, an empty value a tombstone. A commit writes new versions, then the epoch
 * record, then deletes the versions it replaced, so a write that stops half-way leaves the
 * previous epoch loadable: a loader takes per id the newest version not after the epoch record's
 * epoch, and what it ignores is deleted by the next write.
 */
class VersionedRows {
  /** id → epoch of the version storage holds (tombstones are not kept here). */
  private readonly versions = new Map<string, bigint>();

  constructor(readonly prefix: string) {}

  /** Read the rows valid at `epoch`; keys to delete later go into `garbage`. */
  static async read(
    storage: MlsStorage,
    prefix: string,
    epoch: bigint,
    garbage: string[],
  ): Promise<{ rows: VersionedRows; values: Map<string, Uint8Array> }> {
    const rows = new VersionedRows(prefix);
    const best = new Map<string, { epoch: bigint; key: string; value: Uint8Array }>();
    for (const [key, value] of await readAll(storage, prefix)) {
      const rest = key.slice(prefix.length);
      const cut = rest.lastIndexOf('/');
      const [id, e] = [rest.slice(0, cut), BigInt(rest.slice(cut + 1))];
      const seen = best.get(id);
      if (e > epoch) garbage.push(key);
      else if (seen === undefined || e > seen.epoch) {
        if (seen) garbage.push(seen.key);
        best.set(id, { epoch: e, key, value });
      } else garbage.push(key);
    }
    const values = new Map<string, Uint8Array>();
    for (const [id, b] of best) {
      if (b.value.length === 0) garbage.push(b.key);
      else {
        values.set(id, b.value);
        rows.versions.set(id, b.epoch);
      }
    }
    return { rows, values };
  }

  /** Put the version of `epoch`; the key of the version it replaces goes into `replaced`. */
  async put(w: Writer, id: string, epoch: bigint, value: Uint8Array): Promise<void> {
    const old = this.versions.get(id);
    await w.put(`${this.prefix}${id}/${epoch}`, value);
    if (old !== undefined && old !== epoch) w.replaced.push(`${this.prefix}${id}/${old}`);
    this.versions.set(id, epoch);
  }

  /** Remove row `id` as of `epoch` (a tombstone, deleted with the replaced version). */
  async remove(w: Writer, id: string, epoch: bigint): Promise<void> {
    const old = this.versions.get(id);
    if (old === undefined) return;
    this.versions.delete(id);
    if (old !== epoch) {
      await w.put(`${this.prefix}${id}/${epoch}`, new Uint8Array(0));
      w.replaced.push(`${this.prefix}${id}/${old}`, `${this.prefix}${id}/${epoch}`);
    } else w.replaced.push(`${this.prefix}${id}/${old}`);
  }
}

/** One write's puts and the keys it deletes after the epoch record. */
interface Writer {
  put(key: string, value: Uint8Array): Promise<void>;
  readonly replaced: string[];
}

export class GroupRecords {
  /** The tree nodes as stored (undefined: no row). */
  private nodes: readonly (Node | undefined)[] = [];
  private keys: ReadonlyMap<number, KeyPair> = new Map();
  private locals: ReadonlyMap<UserUri, LocalMemberRecord> = new Map();
  /** Hashes of the stored `ext` rows. */
  private extensions = new Set<string>();
  private proposalsStored = false;
  /** Rows a loader ignored (a write that stopped half-way, versions not deleted yet): deleted first. */
  private garbage: string[] = [];
  private readonly rows: { node: VersionedRows; pk: VersionedRows; local: VersionedRows };
  private readonly extPrefix: string;

  private constructor(
    private readonly storage: MlsStorage,
    private readonly groupId: Uint8Array,
    /** Nothing written yet by this object: the first write replaces whatever rows are there. */
    private fresh: boolean,
  ) {
    this.rows = {
      node: new VersionedRows(gatewayKeys.nodePrefix(groupId)),
      pk: new VersionedRows(gatewayKeys.privateKeyPrefix(groupId)),
      local: new VersionedRows(gatewayKeys.localPrefix(groupId)),
    };
    this.extPrefix = gatewayKeys.extensionsPrefix(groupId);
  }

  /** Records for a group created or joined now (its first write is a full one). */
  static fresh(storage: MlsStorage, groupId: Uint8Array): GroupRecords {
    return new GroupRecords(storage, groupId, true);
  }

  /** The group as stored, or undefined when there is no epoch record. */
  static async read(storage: MlsStorage, groupId: Uint8Array): Promise<StoredGroup | undefined> {
    const epochBytes = await storage.get(gatewayKeys.epoch(groupId));
    if (epochBytes === undefined) return undefined;
    const records = new GroupRecords(storage, groupId, false);
    const fail = (why: string): never => {
      throw new MlsGroupError(MlsErrorReason.Storage, `group ${gatewayKeys.groupPrefix(groupId)}: ${why}`);
    };
    const e = decodeEpochRecord(epochBytes);
    const epoch = e.context.context.epoch;
    const garbage = records.garbage;
    const read = (r: VersionedRows) => VersionedRows.read(storage, r.prefix, epoch, garbage);

    const node = await read(records.rows.node);
    const nodes: (Node | undefined)[] = [];
    for (const [id, value] of node.values) nodes[Number(id)] = decodeNode(value);
    if (nodes.length === 0) fail('no tree nodes stored');
    const tree = RatchetTree.fromNodes(Array.from(nodes));
    const suite = cipherSuiteById(e.context.context.cipherSuite);
    if (!bytesEqual(treeHash(suite, tree), e.context.context.treeHash)) {
      fail(`the stored tree does not match the tree hash of epoch ${epoch}`);
    }

    const extensions = new Map<string, Extension[]>();
    for (const [key, value] of await readAll(storage, records.extPrefix)) {
      extensions.set(key.slice(records.extPrefix.length), decodeExtensions(value));
    }
    const extensionsOf = (hash: string): Extension[] => extensions.get(hash) ?? fail(`no extensions ${hash}`);

    const pk = await read(records.rows.pk);
    const privateKeys = new Map<number, KeyPair>();
    for (const [id, value] of pk.values) {
      const kp = decodeKeyPair(value);
      const n = tree.node(Number(id));
      if (!n || !bytesEqual(nodeEncryptionKey(n), kp.publicKey)) {
        fail(`private key of node ${id} does not match the tree`);
      }
      privateKeys.set(Number(id), kp);
    }

    const local = await read(records.rows.local);
    const locals = [...local.values.values()].map(decodeLocalMember);
    const proposalBytes = await storage.get(gatewayKeys.proposals(groupId));
    const cached = proposalBytes === undefined ? undefined : decodeProposals(proposalBytes);
    const context = { ...e.context.context, extensions: extensionsOf(e.context.extensionsHash) };
    const state: GroupState = {
      context,
      tree,
      interimTranscriptHash: e.interimTranscriptHash,
      confirmationTag: e.confirmationTag,
      secrets: e.secrets,
      privateKeys,
      localLeaves: locals.map((l) => l.leafIndex).sort((a, b) => a - b),
      pendingLeafKeys: [],
      proposals: cached?.epoch === epoch ? cached.proposals : [],
      pastEpochs: pastEpochsOf(e.pastEpochs, signatureKeys(tree), extensionsOf),
      resumptionPsks: e.resumptionPsks,
      options: e.options,
    };
    Object.assign(records.rows, { node: node.rows, pk: pk.rows, local: local.rows });
    records.nodes = Array.from({ length: tree.nodeCount }, (_, x) => tree.node(x));
    records.keys = privateKeys;
    records.locals = new Map(locals.map((l) => [l.user, l]));
    records.extensions = new Set(extensions.keys());
    records.proposalsStored = proposalBytes !== undefined;
    return { state, locals, records };
  }

  /**
   * Write a new epoch (or new local members): the rows that changed since the last write, then the
   * epoch record, then the deletions. Returns what was written.
   */
  async writeEpoch(state: GroupState, locals: readonly LocalMemberRecord[]): Promise<WriteStats> {
    const stats = { bytes: 0, rows: 0, deleted: 0 };
    const w: Writer = {
      put: async (key, value) => {
        await this.storage.put(key, value);
        stats.bytes += key.length + value.length;
        stats.rows++;
      },
      replaced: [],
    };
    const epoch = state.context.epoch;
    if (this.fresh) await this.clearRows();
    for (const key of this.garbage.splice(0)) await this.storage.delete(key);

    // GroupContext extensions of the current and past epochs, once per distinct value.
    const referenced = new Set<string>();
    for (const c of [state.context, ...state.pastEpochs.map((p) => p.context)]) {
      const row = extensionsRow(c.extensions);
      referenced.add(row.hash);
      if (!this.extensions.has(row.hash)) await w.put(this.extPrefix + row.hash, row.bytes);
    }
    for (const h of this.extensions) if (!referenced.has(h)) w.replaced.push(this.extPrefix + h);

    // Tree nodes.
    const tree = state.tree;
    const nodes = Array.from({ length: tree.nodeCount }, (_, x) => tree.node(x));
    for (let x = 0; x < Math.max(nodes.length, this.nodes.length); x++) {
      const [was, now] = [this.nodes[x], nodes[x]];
      if (was === now) continue;
      if (now === undefined) await this.rows.node.remove(w, String(x), epoch);
      else if (was === undefined || !bytesEqual(encodeNode(was), encodeNode(now))) {
        await this.rows.node.put(w, String(x), epoch, encodeNode(now));
      }
    }

    // Private tree keys.
    for (const [x, kp] of state.privateKeys) {
      const was = this.keys.get(x);
      if (was !== kp && !(was && bytesEqual(was.privateKey, kp.privateKey))) {
        await this.rows.pk.put(w, String(x), epoch, encodeKeyPair(kp));
      }
    }
    for (const x of this.keys.keys()) if (!state.privateKeys.has(x)) await this.rows.pk.remove(w, String(x), epoch);

    // Local members.
    const nextLocals = new Map(locals.map((m) => [m.user, m]));
    for (const m of locals) {
      const was = this.locals.get(m.user);
      if (was?.leafIndex !== m.leafIndex || was.leafKeySince !== m.leafKeySince || was.sentBefore !== m.sentBefore) {
        await this.rows.local.put(w, encodeURIComponent(m.user), epoch, encodeLocalMember(m));
      }
    }
    for (const user of this.locals.keys()) {
      if (!nextLocals.has(user)) await this.rows.local.remove(w, encodeURIComponent(user), epoch);
    }

    await w.put(gatewayKeys.epoch(this.groupId), encodeEpochRecord(epochRecordOf(state)));
    for (const key of w.replaced) await this.storage.delete(key);
    stats.deleted = w.replaced.length;

    this.fresh = false;
    this.nodes = nodes;
    this.keys = state.privateKeys;
    this.locals = nextLocals;
    this.extensions = referenced;
    stats.bytes += await this.writeProposals(state);
    return stats;
  }

  /** Write (or delete, when empty) the proposal cache. Returns the bytes written. */
  async writeProposals(state: GroupState): Promise<number> {
    const key = gatewayKeys.proposals(this.groupId);
    if (state.proposals.length === 0) {
      if (this.proposalsStored) await this.storage.delete(key);
      this.proposalsStored = false;
      return 0;
    }
    const bytes = encodeProposals(state.context.epoch, state.proposals);
    await this.storage.put(key, bytes);
    this.proposalsStored = true;
    return key.length + bytes.length;
  }

  /** Delete every record of the group. */
  async deleteAll(): Promise<void> {
    await deleteGroupRecords(this.storage, this.groupId);
    this.fresh = true;
  }

  /** Before the first write of a new group: rows a former group of the same id left behind. */
  private async clearRows(): Promise<void> {
    for (const p of [this.rows.node.prefix, this.rows.pk.prefix, this.rows.local.prefix, this.extPrefix]) {
      for (const key of await this.storage.list(p)) await this.storage.delete(key);
    }
  }
}

/** The epoch record of `state`: contexts without extensions, past signature keys as differences. */
function epochRecordOf(state: GroupState): Parameters<typeof encodeEpochRecord>[0] {
  const ref = (c: GroupState['context']) => ({ context: c, extensionsHash: extensionsRow(c.extensions).hash });
  let next: readonly (Uint8Array | undefined)[] = signatureKeys(state.tree);
  const pastEpochs = state.pastEpochs.map((p): PastEpochRecord => {
    const changed = changedKeys(p.signatureKeys, next);
    next = p.signatureKeys;
    return {
      context: ref(p.context),
      senderDataSecret: p.senderDataSecret,
      encryptionSecret: p.encryptionSecret,
      leafCount: p.signatureKeys.length,
      changed,
    };
  });
  return {
    context: ref(state.context),
    interimTranscriptHash: state.interimTranscriptHash,
    confirmationTag: state.confirmationTag,
    secrets: state.secrets,
    pastEpochs,
    resumptionPsks: state.resumptionPsks,
    options: state.options,
  };
}

/** Delete every record of the group. */
export async function deleteGroupRecords(storage: MlsStorage, groupId: Uint8Array): Promise<void> {
  for (const key of await storage.list(gatewayKeys.groupPrefix(groupId))) await storage.delete(key);
}
