/**
 * Encodings of the records in `keys.ts`: the epoch record (GroupState without the tree, the
 * GroupContext extensions, the private tree keys and the local members, which have rows of their
 * own), one tree node, one private key pair, one local member, the proposal cache. Versioned TLS
 * structs of our own; nothing here is sent on the wire.
 */
import { decodeAll, encodeValue, TlsReader, writeTls, type TlsWriter } from '../../codec/tls-codec';
import type { UserUri } from '../../common/ids';
import type { KeyPair } from '../core/crypto';
import type { CachedProposal, EpochSecrets, GroupState, PastEpoch } from '../core/group';
import {
  extensionsCodec,
  groupContextCodec,
  proposalCodec,
  senderCodec,
  treeNodeCodec,
  type Extension,
  type GroupContext,
  type Node,
} from '../core/structs';

/** Version 2: the tree, extensions, private keys and local members moved to rows of their own. */
const VERSION = 2;
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** A local member ("puppet") of a group, one row each. */
export interface LocalMemberRecord {
  readonly user: UserUri;
  readonly leafIndex: number;
  /** When the member's current leaf key was made (ms since the Unix epoch). */
  readonly leafKeySince: number;
  /** Application messages sent under the current leaf key in earlier epochs. */
  readonly sentBefore: number;
}

/**
 * The epoch record as decoded: contexts name their extensions by hash (`ext` rows), the tree
 * comes from the node rows, and each past epoch's signature keys are the differences to the
 * epoch after it (the current tree's leaves for the first).
 */
export interface EpochRecord {
  readonly context: ContextRef;
  readonly interimTranscriptHash: Uint8Array;
  readonly confirmationTag: Uint8Array;
  readonly secrets: EpochSecrets;
  readonly pastEpochs: readonly PastEpochRecord[];
  readonly resumptionPsks: GroupState['resumptionPsks'];
  readonly options: GroupState['options'];
}

/** A GroupContext without its extensions, and the hash naming them. */
interface ContextRef {
  readonly context: GroupContext;
  readonly extensionsHash: string;
}

export interface PastEpochRecord {
  readonly context: ContextRef;
  readonly senderDataSecret: Uint8Array;
  readonly encryptionSecret: Uint8Array;
  readonly leafCount: number;
  /** Leaves whose signature key differs from the next epoch's (undefined: blank). */
  readonly changed: readonly { leaf: number; key: Uint8Array | undefined }[];
}

const SECRET_FIELDS = [
  'senderDataSecret',
  'encryptionSecret',
  'exporterSecret',
  'externalSecret',
  'confirmationKey',
  'membershipKey',
  'resumptionPsk',
  'epochAuthenticator',
  'initSecret',
] as const satisfies readonly (keyof EpochSecrets)[];

function readVersion(r: TlsReader): void {
  const v = r.uint8();
  if (v !== VERSION) r.fail(`unknown record version ${v}`);
}

function writeContext(w: TlsWriter, c: ContextRef): void {
  w.opaque(encodeValue({ ...c.context, extensions: [] }, groupContextCodec));
  w.opaque(utf8.encode(c.extensionsHash));
}

function readContext(r: TlsReader): ContextRef {
  const context = decodeAll(r.opaque(), groupContextCodec);
  return { context, extensionsHash: utf8Strict.decode(r.opaque()) };
}

export function encodeEpochRecord(e: EpochRecord): Uint8Array {
  return writeTls((w) => {
    w.uint8(VERSION);
    writeContext(w, e.context);
    w.opaque(e.interimTranscriptHash);
    w.opaque(e.confirmationTag);
    for (const f of SECRET_FIELDS) w.opaque(e.secrets[f]);
    w.vector(e.pastEpochs, (v, p: PastEpochRecord) => {
      writeContext(v, p.context);
      v.opaque(p.senderDataSecret);
      v.opaque(p.encryptionSecret);
      v.uint32(p.leafCount);
      v.vector(p.changed, (vv, c: PastEpochRecord['changed'][number]) => {
        vv.uint32(c.leaf);
        vv.uint8(c.key ? 1 : 0);
        if (c.key) vv.opaque(c.key);
      });
    });
    w.vector(e.resumptionPsks, (v, p: { epoch: bigint; psk: Uint8Array }) => {
      v.uint64(p.epoch);
      v.opaque(p.psk);
    });
    w.uint32(e.options.pastEpochs);
    w.uint32(e.options.resumptionPsks);
  });
}

export function decodeEpochRecord(bytes: Uint8Array): EpochRecord {
  const r = new TlsReader(bytes, 'GatewayEpochRecord');
  readVersion(r);
  const context = readContext(r);
  const interimTranscriptHash = r.opaque();
  const confirmationTag = r.opaque();
  const secrets = {} as Record<(typeof SECRET_FIELDS)[number], Uint8Array>;
  for (const f of SECRET_FIELDS) secrets[f] = r.opaque();
  const pastEpochs = r.vector<PastEpochRecord>((v) => ({
    context: readContext(v),
    senderDataSecret: v.opaque(),
    encryptionSecret: v.opaque(),
    leafCount: v.uint32(),
    changed: v.vector((vv) => ({ leaf: vv.uint32(), key: vv.uint8() === 1 ? vv.opaque() : undefined })),
  }));
  const resumptionPsks = r.vector((v) => ({ epoch: v.uint64(), psk: v.opaque() }));
  const options = { pastEpochs: r.uint32(), resumptionPsks: r.uint32() };
  r.done();
  return { context, interimTranscriptHash, confirmationTag, secrets, pastEpochs, resumptionPsks, options };
}

/** Past epochs as the core keeps them, from their records and the current tree's signature keys. */
export function pastEpochsOf(
  records: readonly PastEpochRecord[],
  currentKeys: readonly (Uint8Array | undefined)[],
  extensions: (hash: string) => Extension[],
): PastEpoch[] {
  let next = currentKeys;
  return records.map((p) => {
    const keys = Array.from({ length: p.leafCount }, (_, i) => next[i]);
    for (const c of p.changed) keys[c.leaf] = c.key;
    next = keys;
    return {
      context: { ...p.context.context, extensions: extensions(p.context.extensionsHash) },
      senderDataSecret: p.senderDataSecret,
      encryptionSecret: p.encryptionSecret,
      signatureKeys: keys,
    };
  });
}

/** The leaves whose signature key in `keys` differs from `next`'s (the epoch after). */
export function changedKeys(
  keys: readonly (Uint8Array | undefined)[],
  next: readonly (Uint8Array | undefined)[],
): PastEpochRecord['changed'] {
  const out: { leaf: number; key: Uint8Array | undefined }[] = [];
  for (let i = 0; i < keys.length; i++) {
    const [a, b] = [keys[i], next[i]];
    if (a === b) continue;
    if (a !== undefined && b !== undefined && Buffer.compare(a, b) === 0) continue;
    out.push({ leaf: i, key: a });
  }
  return out;
}

/** GroupContext extensions, stored once per distinct value (`ext/<hash>`). */
export const encodeExtensions = (extensions: readonly Extension[]): Uint8Array =>
  encodeValue([...extensions], extensionsCodec);
export const decodeExtensions = (bytes: Uint8Array): Extension[] => decodeAll(bytes, extensionsCodec);

/** One non-blank tree node. */
export const encodeNode = (node: Node): Uint8Array => encodeValue(node, treeNodeCodec);
export const decodeNode = (bytes: Uint8Array): Node => decodeAll(bytes, treeNodeCodec);

/** One private tree key pair. */
export function encodeKeyPair(kp: KeyPair): Uint8Array {
  return writeTls((w) => {
    w.uint8(VERSION);
    w.opaque(kp.privateKey);
    w.opaque(kp.publicKey);
  });
}

export function decodeKeyPair(bytes: Uint8Array): KeyPair {
  const r = new TlsReader(bytes, 'GatewayKeyPair');
  readVersion(r);
  const kp = { privateKey: r.opaque(), publicKey: r.opaque() };
  r.done();
  return kp;
}

/** One local member. */
export function encodeLocalMember(m: LocalMemberRecord): Uint8Array {
  return writeTls((w) => {
    w.uint8(VERSION);
    w.opaque(utf8.encode(m.user));
    w.uint32(m.leafIndex);
    w.uint64(BigInt(m.leafKeySince));
    w.uint32(m.sentBefore);
  });
}

export function decodeLocalMember(bytes: Uint8Array): LocalMemberRecord {
  const r = new TlsReader(bytes, 'GatewayLocalMember');
  readVersion(r);
  const m = {
    user: utf8Strict.decode(r.opaque()) as UserUri,
    leafIndex: r.uint32(),
    leafKeySince: Number(r.uint64()),
    sentBefore: r.uint32(),
  };
  r.done();
  return m;
}

/** The proposal cache of epoch `epoch`. */
export function encodeProposals(epoch: bigint, proposals: readonly CachedProposal[]): Uint8Array {
  return writeTls((w) => {
    w.uint8(VERSION);
    w.uint64(epoch);
    w.vector(proposals, (v, p: CachedProposal) => {
      v.opaque(p.ref);
      v.field('proposal', proposalCodec, p.proposal);
      v.field('sender', senderCodec, p.sender);
    });
  });
}

export function decodeProposals(bytes: Uint8Array): { epoch: bigint; proposals: CachedProposal[] } {
  const r = new TlsReader(bytes, 'GatewayProposals');
  readVersion(r);
  const epoch = r.uint64();
  const proposals = r.vector<CachedProposal>((v) => ({
    ref: v.opaque(),
    proposal: v.field('proposal', proposalCodec),
    sender: v.field('sender', senderCodec),
  }));
  r.done();
  return { epoch, proposals };
}
