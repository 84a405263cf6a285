/**
 * Structs shared by several MIMI endpoints (draft-ietf-mimi-protocol-06 §5), the
 * ratchet-tree-options structs the draft borrows (draft-ietf-mls-ratchet-tree-options-00 §3),
 * and AppDataDictionary (draft-ietf-mls-extensions-09 §4.6).
 */
import { groupInfoCodec, type GroupInfoBytes } from './mls-values';
import {
  codec,
  enumCodec,
  fixedOpaque,
  opaque,
  uint16,
  utf8,
  vectorOf,
  TlsReader,
  type Codec,
  type TlsWriter,
} from '../../codec/tls-codec';

/** protocol-06 §5. `reserved(0)` is not a valid value on the wire. */
export const Protocol = { mls10: 1 } as const;
export type Protocol = keyof typeof Protocol;
export const protocolCodec = enumCodec('Protocol', Protocol);

/**
 * protocol-06 §5.2: `struct { opaque uri<V>; } IdentifierUri;`. The one-field struct encodes
 * exactly like `opaque<V>`; we carry the URI as a string (UTF-8 on the wire).
 */
export type IdentifierUri = string;
export const identifierUriCodec: Codec<IdentifierUri> = codec('IdentifierUri', utf8.encode, utf8.decode);

/** RFC 9420 `uint16 CipherSuite`. Any value is accepted: unknown and GREASE suites are the MLS layer's call. */
export type CipherSuite = number;
export const cipherSuiteCodec: Codec<CipherSuite> = codec('CipherSuite', uint16.encode, uint16.decode);

/** RFC 9420 `opaque SignaturePublicKey<V>` / `opaque HPKEPublicKey<V>` / `opaque HashReference<V>`. */
export const signaturePublicKeyCodec: Codec<Uint8Array> = codec('SignaturePublicKey', opaque.encode, opaque.decode);
export const hpkePublicKeyCodec: Codec<Uint8Array> = codec('HPKEPublicKey', opaque.encode, opaque.decode);
export const proposalRefCodec: Codec<Uint8Array> = codec('ProposalRef', opaque.encode, opaque.decode);

/** RFC 9420 §5.1.3 `struct { opaque kem_output<V>; opaque ciphertext<V>; } HPKECiphertext;` */
export interface HpkeCiphertext {
  kemOutput: Uint8Array;
  ciphertext: Uint8Array;
}
export const hpkeCiphertextCodec = codec<HpkeCiphertext>(
  'HPKECiphertext',
  (w, v) => {
    w.field('kem_output', opaque, v.kemOutput);
    w.field('ciphertext', opaque, v.ciphertext);
  },
  (r) => ({ kemOutput: r.field('kem_output', opaque), ciphertext: r.field('ciphertext', opaque) }),
);

/** RFC 9420 §7.2 `struct { ExtensionType extension_type; opaque extension_data<V>; } Extension;` */
interface MlsExtension {
  extensionType: number;
  extensionData: Uint8Array;
}
const extensionCodec = codec<MlsExtension>(
  'Extension',
  (w, v) => {
    w.field('extension_type', uint16, v.extensionType);
    w.field('extension_data', opaque, v.extensionData);
  },
  (r) => ({ extensionType: r.field('extension_type', uint16), extensionData: r.field('extension_data', opaque) }),
);

/** mls-extensions-09 §4.6: `struct { ComponentID component_id; opaque data<V>; } ComponentData;` */
interface ComponentData {
  componentId: number;
  data: Uint8Array;
}
/**
 * mls-extensions-09 §4.6: `struct { ComponentData component_data<V>; } AppDataDictionary;`.
 * "The entries MUST be sorted by component_id, and there MUST be at most one entry for each
 * component_id": enforced both ways.
 */
export interface AppDataDictionary {
  componentData: ComponentData[];
}
const componentDataCodec = codec<ComponentData>(
  'ComponentData',
  (w, v) => {
    w.field('component_id', uint16, v.componentId);
    w.field('data', opaque, v.data);
  },
  (r) => ({ componentId: r.field('component_id', uint16), data: r.field('data', opaque) }),
);
export const appDataDictionaryCodec = codec<AppDataDictionary>(
  'AppDataDictionary',
  (w, v) => {
    const entries = v.componentData;
    for (let i = 1; i < entries.length; i++) {
      if (entries[i]!.componentId <= entries[i - 1]!.componentId) {
        w.fail(`component_data not strictly sorted by component_id at index ${i}`);
      }
    }
    w.field('component_data', vectorOf(componentDataCodec), entries);
  },
  (r) => {
    const at = r.offset;
    const componentData = r.field('component_data', vectorOf(componentDataCodec));
    for (let i = 1; i < componentData.length; i++) {
      if (componentData[i]!.componentId <= componentData[i - 1]!.componentId) {
        r.fail(`component_data[${i}] not strictly sorted by component_id`, at);
      }
    }
    return { componentData };
  },
);

/** protocol-06 §5.4: `struct { uint8 server_frank[32]; CipherSuite franking_signature_ciphersuite; opaque franking_integrity_signature<V>; } Frank;` */
export interface Frank {
  serverFrank: Uint8Array;
  frankingSignatureCiphersuite: CipherSuite;
  frankingIntegritySignature: Uint8Array;
}
const SERVER_FRANK_LENGTH = 32;
export const serverFrankCodec = fixedOpaque(SERVER_FRANK_LENGTH);
export const frankCodec = codec<Frank>(
  'Frank',
  (w, v) => {
    w.field('server_frank', serverFrankCodec, v.serverFrank);
    w.field('franking_signature_ciphersuite', cipherSuiteCodec, v.frankingSignatureCiphersuite);
    w.field('franking_integrity_signature', opaque, v.frankingIntegritySignature);
  },
  (r) => ({
    serverFrank: r.field('server_frank', serverFrankCodec),
    frankingSignatureCiphersuite: r.field('franking_signature_ciphersuite', cipherSuiteCodec),
    frankingIntegritySignature: r.field('franking_integrity_signature', opaque),
  }),
);

// ---- ratchet-tree-options-00 §3 ---------------------------------------------------------------

/** ratchet-tree-options-00: `RatchetTreeRepresentation`. The draft's select says `httpsUrl` for `httpsUri(2)`. */
const RatchetTreeRepresentation = { full: 1, httpsUri: 2, outOfBand: 3, distributionService: 4 } as const;
type RatchetTreeRepresentation = keyof typeof RatchetTreeRepresentation;
const ratchetTreeRepresentationCodec = enumCodec('RatchetTreeRepresentation', RatchetTreeRepresentation);

export type RatchetTreeOption =
  | {
      representation: 'full';
      /**
       * The whole `Node ratchet_tree<V>` vector, length prefix included: the same bytes as the
       * `ratchet_tree` extension's extension_data (RFC 9420 §12.4.3.3), for the MLS layer.
       */
      ratchetTree: Uint8Array;
    }
  | { representation: 'httpsUri'; ratchetTreeUrl: string }
  | { representation: 'outOfBand' }
  | { representation: 'distributionService' };

export const ratchetTreeOptionCodec = codec<RatchetTreeOption>(
  'RatchetTreeOption',
  (w, v) => {
    w.field('representation', ratchetTreeRepresentationCodec, v.representation);
    switch (v.representation) {
      case 'full':
        w.field('ratchet_tree', writeWholeVector, v.ratchetTree);
        break;
      case 'httpsUri':
        w.field('ratchet_tree_url', utf8, v.ratchetTreeUrl);
        break;
      case 'outOfBand':
      case 'distributionService':
        break;
    }
  },
  (r): RatchetTreeOption => {
    const representation = r.field('representation', ratchetTreeRepresentationCodec);
    switch (representation) {
      case 'full':
        return { representation, ratchetTree: r.field('ratchet_tree', readWholeVector) };
      case 'httpsUri':
        return { representation, ratchetTreeUrl: r.field('ratchet_tree_url', utf8) };
      case 'outOfBand':
      case 'distributionService':
        return { representation };
    }
  },
);

/** A `<V>` vector kept with its length prefix. */
function readWholeVector(r: TlsReader): Uint8Array {
  return r.span(() => r.skip(r.vectorLength()));
}

/** Writes the vector as given after checking it is exactly one minimal-length `<V>` vector. */
function writeWholeVector(w: TlsWriter, v: Uint8Array): void {
  if (!(v instanceof Uint8Array)) return w.fail('expected bytes');
  try {
    const r = new TlsReader(v, 'ratchet_tree');
    r.skip(r.vectorLength());
    if (r.remaining !== 0) r.fail(`${r.remaining} trailing bytes`);
  } catch (e) {
    return w.fail(`not a single <V> vector: ${e instanceof Error ? e.message : String(e)}`);
  }
  w.raw(v);
}

/** ratchet-tree-options-00: `RatchetTreePresence`. */
const RatchetTreePresence = { no_ratchet_tree: 0, present: 1, removed: 2, added: 3 } as const;
type RatchetTreePresence = keyof typeof RatchetTreePresence;
const ratchetTreePresenceCodec = enumCodec('RatchetTreePresence', RatchetTreePresence);

/** ratchet-tree-options-00 §3 PartialGroupInfo (the newest shape, without the older `tree_signature`). */
export interface PartialGroupInfo {
  ratchetTreePresence: RatchetTreePresence;
  /** GroupInfo extensions excluding ratchet_tree. */
  groupInfoExtensions: MlsExtension[];
  signature: Uint8Array;
}
const partialGroupInfoCodec = codec<PartialGroupInfo>(
  'PartialGroupInfo',
  (w, v) => {
    w.field('ratchet_tree_presence', ratchetTreePresenceCodec, v.ratchetTreePresence);
    w.field('group_info_extensions', vectorOf(extensionCodec), v.groupInfoExtensions);
    w.field('signature', opaque, v.signature);
  },
  (r) => ({
    ratchetTreePresence: r.field('ratchet_tree_presence', ratchetTreePresenceCodec),
    groupInfoExtensions: r.field('group_info_extensions', vectorOf(extensionCodec)),
    signature: r.field('signature', opaque),
  }),
);

/** protocol-06 §5.3 `GroupInfoRepresentation`; `reserved(0)` is invalid. */
const GroupInfoRepresentation = { full: 1, partial: 2 } as const;
type GroupInfoRepresentation = keyof typeof GroupInfoRepresentation;
const groupInfoRepresentationCodec = enumCodec('GroupInfoRepresentation', GroupInfoRepresentation);

/** protocol-06 §5.3 GroupInfoOption. */
export type GroupInfoOption =
  | { representation: 'full'; groupInfo: GroupInfoBytes }
  | { representation: 'partial'; partialGroupInfo: PartialGroupInfo };

export const groupInfoOptionCodec = codec<GroupInfoOption>(
  'GroupInfoOption',
  (w, v) => {
    w.field('representation', groupInfoRepresentationCodec, v.representation);
    switch (v.representation) {
      case 'full':
        w.field('groupInfo', groupInfoCodec, v.groupInfo);
        break;
      case 'partial':
        w.field('partialGroupInfo', partialGroupInfoCodec, v.partialGroupInfo);
        break;
    }
  },
  (r): GroupInfoOption => {
    const representation = r.field('representation', groupInfoRepresentationCodec);
    switch (representation) {
      case 'full':
        return { representation, groupInfo: r.field('groupInfo', groupInfoCodec) };
      case 'partial':
        return { representation, partialGroupInfo: r.field('partialGroupInfo', partialGroupInfoCodec) };
    }
  },
);
