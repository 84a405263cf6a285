/**
 * Encodings of the records in `keys.ts`: the shared epoch record (GroupState without private tree
 * keys, plus the local member list), the private tree keys, the proposal cache. Versioned TLS
 * structs of our own; nothing here is sent on the wire.
 */
import { decodeAll, encodeValue, TlsReader, writeTls, type TlsWriter } from '../../codec/tls-codec';
import type { UserUri } from '../../common/ids';
import type { KeyPair } from '../core/crypto';
import type { CachedProposal, EpochSecrets, GroupState, PastEpoch } from '../core/group';
import { RatchetTree } from '../core/ratchet-tree';
import { groupContextCodec, proposalCodec, senderCodec, type GroupContext } from '../core/structs';

const VERSION = 1;
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** A local member ("puppet") of a group, as the epoch record keeps it. */
export interface LocalMemberRecord {
  readonly user: UserUri;
  readonly leafIndex: number;
  /** When the member's current leaf key was made (ms since the Unix epoch). */
  readonly leafKeySince: number;
  /** Application messages sent under the current leaf key in earlier epochs. */
  readonly sentBefore: number;
}

/** The shared part of a group: everything but the private tree keys and proposals. */
export type SharedState = Omit<GroupState, 'privateKeys' | 'localLeaves' | 'pendingLeafKeys' | 'proposals'>;

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

function writeContext(w: TlsWriter, c: GroupContext): void {
  w.opaque(encodeValue(c, groupContextCodec));
}

function readContext(r: TlsReader): GroupContext {
  return decodeAll(r.opaque(), groupContextCodec);
}

export function encodeEpochRecord(state: SharedState, locals: readonly LocalMemberRecord[]): Uint8Array {
  return writeTls((w) => {
    w.uint8(VERSION);
    writeContext(w, state.context);
    w.opaque(state.tree.toBytes());
    w.opaque(state.interimTranscriptHash);
    w.opaque(state.confirmationTag);
    for (const f of SECRET_FIELDS) w.opaque(state.secrets[f]);
    w.vector(state.pastEpochs, (v, p: PastEpoch) => {
      writeContext(v, p.context);
      v.opaque(p.senderDataSecret);
      v.opaque(p.encryptionSecret);
      v.vector(p.signatureKeys, (vv, k: Uint8Array | undefined) => {
        vv.uint8(k ? 1 : 0);
        if (k) vv.opaque(k);
      });
    });
    w.vector(state.resumptionPsks, (v, p: { epoch: bigint; psk: Uint8Array }) => {
      v.uint64(p.epoch);
      v.opaque(p.psk);
    });
    w.uint32(state.options.pastEpochs);
    w.uint32(state.options.resumptionPsks);
    w.vector(locals, (v, m: LocalMemberRecord) => {
      v.opaque(utf8.encode(m.user));
      v.uint32(m.leafIndex);
      v.uint64(BigInt(m.leafKeySince));
      v.uint32(m.sentBefore);
    });
  });
}

export function decodeEpochRecord(bytes: Uint8Array): { state: SharedState; locals: LocalMemberRecord[] } {
  const r = new TlsReader(bytes, 'GatewayEpochRecord');
  readVersion(r);
  const context = readContext(r);
  const tree = RatchetTree.fromBytes(r.opaque());
  const interimTranscriptHash = r.opaque();
  const confirmationTag = r.opaque();
  const secrets = {} as Record<(typeof SECRET_FIELDS)[number], Uint8Array>;
  for (const f of SECRET_FIELDS) secrets[f] = r.opaque();
  const pastEpochs = r.vector<PastEpoch>((v) => ({
    context: readContext(v),
    senderDataSecret: v.opaque(),
    encryptionSecret: v.opaque(),
    signatureKeys: v.vector((vv) => (vv.uint8() === 1 ? vv.opaque() : undefined)),
  }));
  const resumptionPsks = r.vector((v) => ({ epoch: v.uint64(), psk: v.opaque() }));
  const options = { pastEpochs: r.uint32(), resumptionPsks: r.uint32() };
  const locals = r.vector<LocalMemberRecord>((v) => ({
    user: utf8Strict.decode(v.opaque()) as UserUri,
    leafIndex: v.uint32(),
    leafKeySince: Number(v.uint64()),
    sentBefore: v.uint32(),
  }));
  r.done();
  return {
    state: { context, tree, interimTranscriptHash, confirmationTag, secrets, pastEpochs, resumptionPsks, options },
    locals,
  };
}

/** Private tree keys (node index → HPKE key pair) of epoch `epoch`. */
export function encodeTreeKeys(epoch: bigint, keys: ReadonlyMap<number, KeyPair>): Uint8Array {
  return writeTls((w) => {
    w.uint8(VERSION);
    w.uint64(epoch);
    w.vector([...keys], (v, [node, kp]: [number, KeyPair]) => {
      v.uint32(node);
      v.opaque(kp.privateKey);
      v.opaque(kp.publicKey);
    });
  });
}

export function decodeTreeKeys(bytes: Uint8Array): { epoch: bigint; keys: Map<number, KeyPair> } {
  const r = new TlsReader(bytes, 'GatewayTreeKeys');
  readVersion(r);
  const epoch = r.uint64();
  const entries = r.vector((v) => [v.uint32(), { privateKey: v.opaque(), publicKey: v.opaque() }] as const);
  r.done();
  return { epoch, keys: new Map(entries) };
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
