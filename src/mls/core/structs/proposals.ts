/**
 * RFC 9420 proposals (§12.1), PreSharedKeyID (§8.4), ProposalOrRef and Commit (§12.4), plus the
 * mls-extensions-09 proposals AppDataUpdate, AppEphemeral and SelfRemove.
 *
 * Proposal type numbers of mls-extensions-09 are the draft's *suggested* IANA values (the draft
 * says TBD): app_data_update 0x0008, app_ephemeral 0x0009, self_remove 0x000a (see `ProposalType`).
 *
 * Any other proposal type (app_ack 0x000b, GREASE, private use) is a `CustomProposal`: RFC 9420
 * cannot delimit a proposal whose type it does not know, so, like openmls, mls-rs and ts-mls, we
 * read its body as one `opaque<V>`. That is exact for proposals whose struct is a single vector
 * (GroupContextExtensions-like, app_ack's `received_ranges<V>`); a peer that sends any other
 * shape under an unknown type is mis-read (usually a CodecError further on).
 */
import {
  codec,
  opaque,
  optionalOf,
  uint16,
  uint32,
  uint64,
  vectorOf,
  type Codec,
  type TlsReader,
  type TlsWriter,
} from '../../../codec/tls-codec';
import {
  cipherSuiteCodec,
  extensionsCodec,
  hashReferenceCodec,
  numericEnum,
  protocolVersionCodec,
  ProposalType,
  type CipherSuite,
  type Extension,
  type ProtocolVersion,
} from './basics';
import {
  keyPackageCodec,
  leafNodeCodec,
  updatePathCodec,
  type KeyPackage,
  type LeafNode,
  type UpdatePath,
} from './tree';

// ---- PreSharedKeyID ------------------------------------------------------------------------------

/** §8.4 PSKType. */
export const PSKType = { external: 1, resumption: 2 } as const;
export type PSKType = (typeof PSKType)[keyof typeof PSKType];
const pskTypeCodec = numericEnum('PSKType', PSKType);

/** §8.4 ResumptionPSKUsage. */
export const ResumptionPSKUsage = { application: 1, reinit: 2, branch: 3 } as const;
export type ResumptionPSKUsage = (typeof ResumptionPSKUsage)[keyof typeof ResumptionPSKUsage];
const resumptionPskUsageCodec = numericEnum('ResumptionPSKUsage', ResumptionPSKUsage);

/** §8.4 PreSharedKeyID. */
export type PreSharedKeyID = (
  | { pskType: typeof PSKType.external; pskId: Uint8Array }
  | { pskType: typeof PSKType.resumption; usage: ResumptionPSKUsage; pskGroupId: Uint8Array; pskEpoch: bigint }
) & { pskNonce: Uint8Array };

export const preSharedKeyIdCodec = codec<PreSharedKeyID>(
  'PreSharedKeyID',
  (w, v) => {
    w.field('psktype', pskTypeCodec, v.pskType);
    if (v.pskType === PSKType.external) {
      w.field('psk_id', opaque, v.pskId);
    } else {
      w.field('usage', resumptionPskUsageCodec, v.usage);
      w.field('psk_group_id', opaque, v.pskGroupId);
      w.field('psk_epoch', uint64, v.pskEpoch);
    }
    w.field('psk_nonce', opaque, v.pskNonce);
  },
  (r): PreSharedKeyID => {
    const pskType = r.field('psktype', pskTypeCodec);
    if (pskType === PSKType.external) {
      const pskId = r.field('psk_id', opaque);
      return { pskType, pskId, pskNonce: r.field('psk_nonce', opaque) };
    }
    const usage = r.field('usage', resumptionPskUsageCodec);
    const pskGroupId = r.field('psk_group_id', opaque);
    const pskEpoch = r.field('psk_epoch', uint64);
    return { pskType, usage, pskGroupId, pskEpoch, pskNonce: r.field('psk_nonce', opaque) };
  },
);

// ---- proposal bodies -----------------------------------------------------------------------------

/** §12.1.1 Add. */
export interface Add {
  keyPackage: KeyPackage;
}
/** §12.1.2 Update. */
export interface Update {
  leafNode: LeafNode;
}
/** §12.1.3 Remove: a leaf index. */
export interface Remove {
  removed: number;
}
/** §12.1.4 PreSharedKey. */
export interface PreSharedKey {
  psk: PreSharedKeyID;
}
/** §12.1.5 ReInit. */
export interface ReInit {
  groupId: Uint8Array;
  version: ProtocolVersion;
  cipherSuite: CipherSuite;
  extensions: Extension[];
}
/** §12.1.6 ExternalInit. */
export interface ExternalInit {
  kemOutput: Uint8Array;
}
/** §12.1.7 GroupContextExtensions. */
export interface GroupContextExtensions {
  extensions: Extension[];
}

/** mls-extensions-09 AppDataUpdateOperation. */
export const AppDataUpdateOperation = { update: 1, remove: 2 } as const;
export type AppDataUpdateOperation = (typeof AppDataUpdateOperation)[keyof typeof AppDataUpdateOperation];
const appDataUpdateOperationCodec = numericEnum('AppDataUpdateOperation', AppDataUpdateOperation);

/** mls-extensions-09 §"Updating Application Data in the GroupContext": AppDataUpdate (ComponentID is uint16). */
export type AppDataUpdate = { componentId: number } & (
  { op: typeof AppDataUpdateOperation.update; update: Uint8Array } | { op: typeof AppDataUpdateOperation.remove }
);
/** mls-extensions-09 §"Attaching Application Data to a Commit": AppEphemeral. */
interface AppEphemeral {
  componentId: number;
  data: Uint8Array;
}
/** mls-extensions-09 §"SelfRemove Proposal": `struct {} SelfRemove;` (nothing on the wire). */
type SelfRemove = Record<string, never>;

export const addCodec = codec<Add>(
  'Add',
  (w, v) => w.field('key_package', keyPackageCodec, v.keyPackage),
  (r) => ({ keyPackage: r.field('key_package', keyPackageCodec) }),
);
export const updateCodec = codec<Update>(
  'Update',
  (w, v) => w.field('leaf_node', leafNodeCodec, v.leafNode),
  (r) => ({ leafNode: r.field('leaf_node', leafNodeCodec) }),
);
export const removeCodec = codec<Remove>(
  'Remove',
  (w, v) => w.field('removed', uint32, v.removed),
  (r) => ({ removed: r.field('removed', uint32) }),
);
export const preSharedKeyCodec = codec<PreSharedKey>(
  'PreSharedKey',
  (w, v) => w.field('psk', preSharedKeyIdCodec, v.psk),
  (r) => ({ psk: r.field('psk', preSharedKeyIdCodec) }),
);
export const reInitCodec = codec<ReInit>(
  'ReInit',
  (w, v) => {
    w.field('group_id', opaque, v.groupId);
    w.field('version', protocolVersionCodec, v.version);
    w.field('cipher_suite', cipherSuiteCodec, v.cipherSuite);
    w.field('extensions', extensionsCodec, v.extensions);
  },
  (r) => ({
    groupId: r.field('group_id', opaque),
    version: r.field('version', protocolVersionCodec),
    cipherSuite: r.field('cipher_suite', cipherSuiteCodec),
    extensions: r.field('extensions', extensionsCodec),
  }),
);
export const externalInitCodec = codec<ExternalInit>(
  'ExternalInit',
  (w, v) => w.field('kem_output', opaque, v.kemOutput),
  (r) => ({ kemOutput: r.field('kem_output', opaque) }),
);
export const groupContextExtensionsCodec = codec<GroupContextExtensions>(
  'GroupContextExtensions',
  (w, v) => w.field('extensions', extensionsCodec, v.extensions),
  (r) => ({ extensions: r.field('extensions', extensionsCodec) }),
);
const appDataUpdateCodec = codec<AppDataUpdate>(
  'AppDataUpdate',
  (w, v) => {
    w.field('component_id', uint16, v.componentId);
    w.field('op', appDataUpdateOperationCodec, v.op);
    if (v.op === AppDataUpdateOperation.update) w.field('update', opaque, v.update);
  },
  (r): AppDataUpdate => {
    const componentId = r.field('component_id', uint16);
    const op = r.field('op', appDataUpdateOperationCodec);
    if (op === AppDataUpdateOperation.update) return { componentId, op, update: r.field('update', opaque) };
    return { componentId, op };
  },
);
const appEphemeralCodec = codec<AppEphemeral>(
  'AppEphemeral',
  (w, v) => {
    w.field('component_id', uint16, v.componentId);
    w.field('data', opaque, v.data);
  },
  (r) => ({ componentId: r.field('component_id', uint16), data: r.field('data', opaque) }),
);
const selfRemoveCodec = codec<SelfRemove>(
  'SelfRemove',
  () => undefined,
  () => ({}),
);

// ---- Proposal --------------------------------------------------------------------------------------

type PT = typeof ProposalType;
/** A proposal of a type this layer models. Switch on `proposalType` after `isCustomProposal`. */
export type KnownProposal =
  | { proposalType: PT['add']; add: Add }
  | { proposalType: PT['update']; update: Update }
  | { proposalType: PT['remove']; remove: Remove }
  | { proposalType: PT['psk']; preSharedKey: PreSharedKey }
  | { proposalType: PT['reinit']; reInit: ReInit }
  | { proposalType: PT['external_init']; externalInit: ExternalInit }
  | { proposalType: PT['group_context_extensions']; groupContextExtensions: GroupContextExtensions }
  | { proposalType: PT['app_data_update']; appDataUpdate: AppDataUpdate }
  | { proposalType: PT['app_ephemeral']; appEphemeral: AppEphemeral }
  | { proposalType: PT['self_remove']; selfRemove: SelfRemove };

/** A proposal of any other type, its body kept as the contents of one `opaque<V>` (see above). */
export interface CustomProposal {
  proposalType: number;
  custom: Uint8Array;
}
export type Proposal = KnownProposal | CustomProposal;

export function isCustomProposal(p: Proposal): p is CustomProposal {
  return 'custom' in p;
}

/** Field name and body codec of a modelled proposal type. */
function body<T>(name: string, bodyCodec: Codec<T>): readonly [string, Codec<unknown>] {
  return [name, bodyCodec as unknown as Codec<unknown>];
}
const BODIES: ReadonlyMap<number, readonly [string, Codec<unknown>]> = new Map([
  [ProposalType.add, body('add', addCodec)],
  [ProposalType.update, body('update', updateCodec)],
  [ProposalType.remove, body('remove', removeCodec)],
  [ProposalType.psk, body('preSharedKey', preSharedKeyCodec)],
  [ProposalType.reinit, body('reInit', reInitCodec)],
  [ProposalType.external_init, body('externalInit', externalInitCodec)],
  [ProposalType.group_context_extensions, body('groupContextExtensions', groupContextExtensionsCodec)],
  [ProposalType.app_data_update, body('appDataUpdate', appDataUpdateCodec)],
  [ProposalType.app_ephemeral, body('appEphemeral', appEphemeralCodec)],
  [ProposalType.self_remove, body('selfRemove', selfRemoveCodec)],
]);

export const proposalCodec = codec<Proposal>(
  'Proposal',
  (w: TlsWriter, v) => {
    w.field('proposal_type', uint16, v.proposalType);
    const body = BODIES.get(v.proposalType);
    if (isCustomProposal(v)) {
      if (body) w.fail(`proposal_type ${v.proposalType} is modelled, not custom`);
      w.field('custom', opaque, v.custom);
      return;
    }
    if (!body) return w.fail(`proposal_type ${v.proposalType} is not modelled`);
    const [name, bodyCodec] = body;
    const value = (v as unknown as Record<string, unknown>)[name];
    if (value === undefined) w.fail(`proposal_type ${v.proposalType} needs field ${name}`);
    w.field(name, bodyCodec, value);
  },
  (r: TlsReader): Proposal => {
    const proposalType = r.field('proposal_type', uint16);
    const body = BODIES.get(proposalType);
    if (!body) return { proposalType, custom: r.field('custom', opaque) };
    const [name, bodyCodec] = body;
    return { proposalType, [name]: r.field(name, bodyCodec) } as unknown as KnownProposal;
  },
);

// ---- ProposalOrRef, Commit --------------------------------------------------------------------------

/** §5.2 `HashReference ProposalRef`. */
export type ProposalRef = Uint8Array;
const proposalRefCodec: Codec<ProposalRef> = codec('ProposalRef', hashReferenceCodec.encode, hashReferenceCodec.decode);

/** §12.4 ProposalOrRefType. */
export const ProposalOrRefType = { proposal: 1, reference: 2 } as const;
export type ProposalOrRefType = (typeof ProposalOrRefType)[keyof typeof ProposalOrRefType];
const proposalOrRefTypeCodec = numericEnum('ProposalOrRefType', ProposalOrRefType);

/** §12.4 ProposalOrRef. */
export type ProposalOrRef =
  | { type: typeof ProposalOrRefType.proposal; proposal: Proposal }
  | { type: typeof ProposalOrRefType.reference; reference: ProposalRef };
const proposalOrRefCodec = codec<ProposalOrRef>(
  'ProposalOrRef',
  (w, v) => {
    w.field('type', proposalOrRefTypeCodec, v.type);
    if (v.type === ProposalOrRefType.proposal) w.field('proposal', proposalCodec, v.proposal);
    else w.field('reference', proposalRefCodec, v.reference);
  },
  (r): ProposalOrRef => {
    const type = r.field('type', proposalOrRefTypeCodec);
    if (type === ProposalOrRefType.proposal) return { type, proposal: r.field('proposal', proposalCodec) };
    return { type, reference: r.field('reference', proposalRefCodec) };
  },
);

/** §12.4 Commit. */
export interface Commit {
  proposals: ProposalOrRef[];
  path?: UpdatePath;
}
const proposalOrRefsCodec = vectorOf(proposalOrRefCodec);
const optionalUpdatePathCodec = optionalOf(updatePathCodec);
export const commitCodec = codec<Commit>(
  'Commit',
  (w, v) => {
    w.field('proposals', proposalOrRefsCodec, v.proposals);
    w.field('path', optionalUpdatePathCodec, v.path);
  },
  (r) => {
    const proposals = r.field('proposals', proposalOrRefsCodec);
    const path = r.field('path', optionalUpdatePathCodec);
    return path === undefined ? { proposals } : { proposals, path };
  },
);
