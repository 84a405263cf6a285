/**
 * Typed extension payloads: RFC 9420 application_id (§5.3.3), ratchet_tree (§12.4.3.3),
 * required_capabilities (§11.1), external_pub (§12.4.3.2), external_senders (§12.1.8.1), and
 * mls-extensions-09's app_data_dictionary (type 0x0006, the draft's suggested value).
 *
 * `findExtension` / `setExtension` read and write one typed payload in an `Extension[]`; the
 * payload must fill `extension_data` exactly (trailing bytes are a CodecError).
 */
import { CodecError } from '../../../common/errors';
import { codec, decodeAll, encodeValue, opaque, uint16, vectorOf, type Codec } from '../../../codec/tls-codec';
import {
  credentialCodec,
  ExtensionType,
  hpkePublicKeyCodec,
  signaturePublicKeyCodec,
  uint16ListCodec,
  type Credential,
  type Extension,
} from './basics';
import { ratchetTreeCodec, type RatchetTree } from './tree';

/** §5.3.3 `opaque application_id<V>`. */
const applicationIdCodec: Codec<Uint8Array> = codec('ApplicationId', opaque.encode, opaque.decode);

/** §11.1 RequiredCapabilities. */
export interface RequiredCapabilities {
  extensionTypes: number[];
  proposalTypes: number[];
  credentialTypes: number[];
}
export const requiredCapabilitiesCodec = codec<RequiredCapabilities>(
  'RequiredCapabilities',
  (w, v) => {
    w.field('extension_types', uint16ListCodec, v.extensionTypes);
    w.field('proposal_types', uint16ListCodec, v.proposalTypes);
    w.field('credential_types', uint16ListCodec, v.credentialTypes);
  },
  (r) => ({
    extensionTypes: r.field('extension_types', uint16ListCodec),
    proposalTypes: r.field('proposal_types', uint16ListCodec),
    credentialTypes: r.field('credential_types', uint16ListCodec),
  }),
);

/** §12.4.3.2 ExternalPub: the HPKEPublicKey *with* its `<V>` length prefix. */
export interface ExternalPub {
  externalPub: Uint8Array;
}
const externalPubCodec = codec<ExternalPub>(
  'ExternalPub',
  (w, v) => w.field('external_pub', hpkePublicKeyCodec, v.externalPub),
  (r) => ({ externalPub: r.field('external_pub', hpkePublicKeyCodec) }),
);

/** §12.1.8.1 ExternalSender; the extension holds a vector of them. */
export interface ExternalSender {
  signatureKey: Uint8Array;
  credential: Credential;
}
const externalSenderCodec = codec<ExternalSender>(
  'ExternalSender',
  (w, v) => {
    w.field('signature_key', signaturePublicKeyCodec, v.signatureKey);
    w.field('credential', credentialCodec, v.credential);
  },
  (r) => ({
    signatureKey: r.field('signature_key', signaturePublicKeyCodec),
    credential: r.field('credential', credentialCodec),
  }),
);
/** §12.1.8.1 `ExternalSender external_senders<V>`. */
const externalSendersCodec: Codec<ExternalSender[]> = vectorOf(externalSenderCodec);

/** mls-extensions-09 ComponentData (ComponentID is uint16). */
export interface ComponentData {
  componentId: number;
  data: Uint8Array;
}
const componentDataCodec = codec<ComponentData>(
  'ComponentData',
  (w, v) => {
    w.field('component_id', uint16, v.componentId);
    w.field('data', opaque, v.data);
  },
  (r) => ({ componentId: r.field('component_id', uint16), data: r.field('data', opaque) }),
);

/** mls-extensions-09 AppDataDictionary: entries strictly increasing by component_id (checked both ways). */
export interface AppDataDictionary {
  componentData: ComponentData[];
}
const componentDataListCodec = vectorOf(componentDataCodec);
function unsortedAt(entries: readonly ComponentData[]): number {
  for (let i = 1; i < entries.length; i++) if (entries[i]!.componentId <= entries[i - 1]!.componentId) return i;
  return -1;
}
export const appDataDictionaryCodec = codec<AppDataDictionary>(
  'AppDataDictionary',
  (w, v) => {
    const i = unsortedAt(v.componentData);
    if (i >= 0) w.fail(`component_data[${i}] not strictly sorted by component_id`);
    w.field('component_data', componentDataListCodec, v.componentData);
  },
  (r) => {
    const at = r.offset;
    const componentData = r.field('component_data', componentDataListCodec);
    const i = unsortedAt(componentData);
    if (i >= 0) r.fail(`component_data[${i}] not strictly sorted by component_id`, at);
    return { componentData };
  },
);

/** An extension type together with the codec of its payload. */
export interface ExtensionKind<T> {
  readonly type: number;
  readonly codec: Codec<T>;
}
export const applicationIdExtension: ExtensionKind<Uint8Array> = {
  type: ExtensionType.application_id,
  codec: applicationIdCodec,
};
export const ratchetTreeExtension: ExtensionKind<RatchetTree> = {
  type: ExtensionType.ratchet_tree,
  codec: ratchetTreeCodec,
};
export const requiredCapabilitiesExtension: ExtensionKind<RequiredCapabilities> = {
  type: ExtensionType.required_capabilities,
  codec: requiredCapabilitiesCodec,
};
export const externalPubExtension: ExtensionKind<ExternalPub> = {
  type: ExtensionType.external_pub,
  codec: externalPubCodec,
};
export const externalSendersExtension: ExtensionKind<ExternalSender[]> = {
  type: ExtensionType.external_senders,
  codec: externalSendersCodec,
};
export const appDataDictionaryExtension: ExtensionKind<AppDataDictionary> = {
  type: ExtensionType.app_data_dictionary,
  codec: appDataDictionaryCodec,
};

/**
 * The decoded payload of the extension of `kind` in `extensions`, or undefined if absent.
 * Two extensions of the same type are an error (RFC 9420 §7.2, §12.1.7 forbid duplicates).
 */
export function findExtension<T>(extensions: readonly Extension[], kind: ExtensionKind<T>): T | undefined {
  const found = extensions.filter((e) => e.extensionType === kind.type);
  if (found.length > 1) {
    throw new CodecError(`${kind.codec.name}: extension type ${kind.type} appears ${found.length} times`);
  }
  return found[0] === undefined ? undefined : decodeAll(found[0].extensionData, kind.codec);
}

/** An Extension carrying `value` as the payload of `kind`. */
export function makeExtension<T>(kind: ExtensionKind<T>, value: T): Extension {
  return { extensionType: kind.type, extensionData: encodeValue(value, kind.codec) };
}

/**
 * A copy of `extensions` with the extension of `kind` set to `value` (replaced in place if
 * present, appended otherwise) or removed when `value` is undefined.
 */
export function setExtension<T>(
  extensions: readonly Extension[],
  kind: ExtensionKind<T>,
  value: T | undefined,
): Extension[] {
  const i = extensions.findIndex((e) => e.extensionType === kind.type);
  const rest = extensions.filter((e) => e.extensionType !== kind.type);
  if (value === undefined) return rest;
  const ext = makeExtension(kind, value);
  if (i < 0) return [...rest, ext];
  rest.splice(i, 0, ext);
  return rest;
}
