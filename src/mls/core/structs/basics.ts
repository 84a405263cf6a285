/**
 * RFC 9420 basic types: code points (§17 IANA registries), Extension, Capabilities and Lifetime
 * (§7.2), Credential (§5.3), HPKECiphertext (§7.6) and the key/hash byte strings (§5.1, §5.2).
 *
 * Closed enums (ProtocolVersion, ContentType, ...) are decoded strictly: a value outside the
 * table is a CodecError. Open registries (cipher suites, extension, proposal and credential
 * types) are plain uint16 numbers: unknown values are carried, never rejected here.
 */
import { codec, opaque, uint16, uint64, vectorOf, type Codec, type TlsReader } from '../../../codec/tls-codec';

/** A closed TLS enum as a number codec: values outside `table` (and `reserved(0)`) are rejected. */
export function numericEnum<E extends Readonly<Record<string, number>>>(
  name: string,
  table: E,
  width: 1 | 2 = 1,
): Codec<E[keyof E]> {
  const allowed = new Set<number>(Object.values(table));
  const check = (n: number): n is E[keyof E] => allowed.has(n);
  return codec<E[keyof E]>(
    name,
    (w, v) => {
      if (!check(v)) w.fail(`invalid ${name} ${String(v)}`);
      if (width === 1) w.uint8(v);
      else w.uint16(v);
    },
    (r) => {
      const at = r.offset;
      const n = width === 1 ? r.uint8() : r.uint16();
      if (!check(n)) return r.fail(`invalid ${name} ${n}`, at);
      return n;
    },
  );
}

/** `opaque x<V>` under a struct-specific name (HPKEPublicKey, MAC, HashReference ...). */
function namedOpaque(name: string): Codec<Uint8Array> {
  return codec(name, opaque.encode, opaque.decode);
}

/** `struct { <fields of tbs>; opaque signature<V>; }`: a signed struct from the codec of its TBS part. */
export function signedCodec<T extends object>(name: string, tbs: Codec<T>): Codec<T & { signature: Uint8Array }> {
  return codec<T & { signature: Uint8Array }>(
    name,
    (w, v) => {
      tbs.encode(w, v);
      w.field('signature', opaque, v.signature);
    },
    (r) => {
      const fields = tbs.decode(r);
      return { ...fields, signature: r.field('signature', opaque) };
    },
  );
}

// ---- code points ----------------------------------------------------------------------------

/** §6 ProtocolVersion: only mls10 exists; reserved(0) and unknown versions are rejected. */
export const ProtocolVersion = { mls10: 1 } as const;
export type ProtocolVersion = (typeof ProtocolVersion)[keyof typeof ProtocolVersion];
export const protocolVersionCodec = numericEnum('ProtocolVersion', ProtocolVersion, 2);

/**
 * §5.1 `uint16 CipherSuite` (IANA "MLS Cipher Suites"; the named values are in
 * `crypto/cipher-suite.ts` as `CipherSuiteId`). Any uint16 decodes: whether a suite is
 * supported is a protocol question, not a syntax one.
 */
export type CipherSuite = number;
export const cipherSuiteCodec: Codec<CipherSuite> = codec('CipherSuite', uint16.encode, uint16.decode);

/** §17.3 IANA "MLS Extension Types" (RFC 9420) plus mls-extensions-09 §9's suggested values. */
export const ExtensionType = {
  application_id: 0x0001,
  ratchet_tree: 0x0002,
  required_capabilities: 0x0003,
  external_pub: 0x0004,
  external_senders: 0x0005,
  /** mls-extensions-09 §9 "app_data_dictionary": 0x0006 is the draft's *suggested* value. */
  app_data_dictionary: 0x0006,
  /** mls-extensions-09 §9: suggested value, payload not modelled here. */
  supported_wire_formats: 0x0007,
  /** mls-extensions-09 §9: suggested value, payload not modelled here. */
  required_wire_formats: 0x0008,
} as const;
export type ExtensionType = number;

/** §17.4 IANA "MLS Proposal Types" plus mls-extensions-09 §9's suggested values. */
export const ProposalType = {
  add: 0x0001,
  update: 0x0002,
  remove: 0x0003,
  psk: 0x0004,
  reinit: 0x0005,
  external_init: 0x0006,
  group_context_extensions: 0x0007,
  /** mls-extensions-09 §9 "app_data_update": 0x0008 (suggested value, draft says TBD). */
  app_data_update: 0x0008,
  /** mls-extensions-09 §9 "app_ephemeral": 0x0009 (suggested value). */
  app_ephemeral: 0x0009,
  /** mls-extensions-09 §9 "self_remove": 0x000a (suggested value, draft says TBD). */
  self_remove: 0x000a,
  /** mls-extensions-09 §9 "app_ack": 0x000b (suggested); not modelled, carried as a custom proposal. */
  app_ack: 0x000b,
} as const;
export type ProposalType = number;

/** §17.5 IANA "MLS Credential Types" plus mls-extensions-09 §9 multi (suggested) and weak-multi. */
export const CredentialType = {
  basic: 0x0001,
  x509: 0x0002,
  /** mls-extensions-09: suggested value; carried as a custom credential (one `<V>` vector). */
  multi: 0x0003,
  /** mls-extensions-09: carried as a custom credential (one `<V>` vector). */
  weak_multi: 0x0004,
} as const;
export type CredentialType = number;

// ---- byte strings ---------------------------------------------------------------------------

/** §5.1 `opaque HPKEPublicKey<V>`. */
export const hpkePublicKeyCodec = namedOpaque('HPKEPublicKey');
/** §5.1 `opaque SignaturePublicKey<V>`. */
export const signaturePublicKeyCodec = namedOpaque('SignaturePublicKey');
/** §6.1 `opaque MAC<V>`. */
export const macCodec = namedOpaque('MAC');
/** §5.2 `opaque HashReference<V>` (KeyPackageRef, ProposalRef). */
export const hashReferenceCodec = namedOpaque('HashReference');

/** A list of uint16 code points (Capabilities, RequiredCapabilities). */
export const uint16ListCodec: Codec<number[]> = vectorOf(uint16);

// ---- Extension -------------------------------------------------------------------------------

/** §7.2 Extension. `extensionData` is the payload's encoding (see `extensions.ts` for typed ones). */
export interface Extension {
  extensionType: ExtensionType;
  extensionData: Uint8Array;
}
const extensionCodec = codec<Extension>(
  'Extension',
  (w, v) => {
    w.field('extension_type', uint16, v.extensionType);
    w.field('extension_data', opaque, v.extensionData);
  },
  (r) => ({ extensionType: r.field('extension_type', uint16), extensionData: r.field('extension_data', opaque) }),
);
export const extensionsCodec: Codec<Extension[]> = vectorOf(extensionCodec);

// ---- Capabilities, Lifetime -----------------------------------------------------------------

/** §7.2 Capabilities. Lists keep unknown (e.g. GREASE) values as they are. */
export interface Capabilities {
  versions: number[];
  cipherSuites: CipherSuite[];
  extensions: ExtensionType[];
  proposals: ProposalType[];
  credentials: CredentialType[];
}
export const capabilitiesCodec = codec<Capabilities>(
  'Capabilities',
  (w, v) => {
    w.field('versions', uint16ListCodec, v.versions);
    w.field('cipher_suites', uint16ListCodec, v.cipherSuites);
    w.field('extensions', uint16ListCodec, v.extensions);
    w.field('proposals', uint16ListCodec, v.proposals);
    w.field('credentials', uint16ListCodec, v.credentials);
  },
  (r) => ({
    versions: r.field('versions', uint16ListCodec),
    cipherSuites: r.field('cipher_suites', uint16ListCodec),
    extensions: r.field('extensions', uint16ListCodec),
    proposals: r.field('proposals', uint16ListCodec),
    credentials: r.field('credentials', uint16ListCodec),
  }),
);

/** §7.2 Lifetime: seconds since the Unix epoch. */
export interface Lifetime {
  notBefore: bigint;
  notAfter: bigint;
}
export const lifetimeCodec = codec<Lifetime>(
  'Lifetime',
  (w, v) => {
    w.field('not_before', uint64, v.notBefore);
    w.field('not_after', uint64, v.notAfter);
  },
  (r) => ({ notBefore: r.field('not_before', uint64), notAfter: r.field('not_after', uint64) }),
);

// ---- Credential ------------------------------------------------------------------------------

interface BasicCredential {
  credentialType: typeof CredentialType.basic;
  identity: Uint8Array;
}
/** `Certificate certificates<V>` with `struct { opaque cert_data<V>; } Certificate`: DER bytes. */
interface X509Credential {
  credentialType: typeof CredentialType.x509;
  certificates: Uint8Array[];
}
/**
 * A credential type this layer does not model (multi, weak-multi, private use). RFC 9420 cannot
 * delimit an unknown type, so we follow the convention of deployed stacks (openmls, mls-rs,
 * ts-mls): its body is one `opaque<V>`. True of mls-extensions-09 multi/weak-multi credentials
 * (`CredentialBinding bindings<V>`), whose `data` is the vector's contents.
 */
export interface CustomCredential {
  credentialType: CredentialType;
  data: Uint8Array;
}
export type Credential = BasicCredential | X509Credential | CustomCredential;

function isCustomCredential(c: Credential): c is CustomCredential {
  return 'data' in c;
}

const certificatesCodec = vectorOf(namedOpaque('Certificate'));

export const credentialCodec = codec<Credential>(
  'Credential',
  (w, v) => {
    w.field('credential_type', uint16, v.credentialType);
    if (isCustomCredential(v)) {
      if (v.credentialType === CredentialType.basic || v.credentialType === CredentialType.x509) {
        w.fail(`credential_type ${v.credentialType} is not custom`);
      }
      w.field('data', opaque, v.data);
    } else if (v.credentialType === CredentialType.basic) {
      w.field('identity', opaque, v.identity);
    } else {
      w.field('certificates', certificatesCodec, v.certificates);
    }
  },
  (r: TlsReader): Credential => {
    const credentialType = r.field('credential_type', uint16);
    switch (credentialType) {
      case CredentialType.basic:
        return { credentialType, identity: r.field('identity', opaque) };
      case CredentialType.x509:
        return { credentialType, certificates: r.field('certificates', certificatesCodec) };
      default:
        return { credentialType, data: r.field('data', opaque) };
    }
  },
);

// ---- HPKECiphertext --------------------------------------------------------------------------

/** §7.6 HPKECiphertext. */
export interface HPKECiphertext {
  kemOutput: Uint8Array;
  ciphertext: Uint8Array;
}
export const hpkeCiphertextCodec = codec<HPKECiphertext>(
  'HPKECiphertext',
  (w, v) => {
    w.field('kem_output', opaque, v.kemOutput);
    w.field('ciphertext', opaque, v.ciphertext);
  },
  (r) => ({ kemOutput: r.field('kem_output', opaque), ciphertext: r.field('ciphertext', opaque) }),
);
