/**
 * KeyPackages (RFC 9420 §10): creating one (fresh init and leaf HPKE keys, a `key_package` leaf
 * node signed with "LeafNodeTBS", the whole signed with "KeyPackageTBS", its KeyPackageRef) and
 * validating one received from elsewhere (§10.1 and the parts of §7.3 a KeyPackage alone can
 * tell: version, suite, both signatures, init key ≠ encryption key, lifetime, capabilities that
 * cover the extensions and credential used).
 *
 * The private keys are returned to the caller, who stores them until the KeyPackage is used
 * (`group/join.ts` takes them as `JoinerKeys`). Nothing here keeps state.
 *
 * Default capabilities list what this core supports beyond RFC 9420's defaults: the
 * extensions-09 AppDataUpdate (0x0008) and SelfRemove (0x000a) proposals and the
 * app_data_dictionary (0x0006) GroupContext extension. Other stacks (openmls) refuse a commit
 * with a non-default proposal type, or a GroupContextExtensions with a non-default extension,
 * unless every member lists it, so a KeyPackage that leaves them out makes its holder unable to
 * take part in MIMI groups.
 */
import { CodecError } from '../../common/errors';
import { decodeAll, encodeValue } from '../../codec/tls-codec';
import {
  cipherSuiteById,
  makeKeyPackageRef,
  signWithLabel,
  supportedCipherSuites,
  verifyWithLabel,
  type CipherSuite,
} from './crypto';
import { mlsFail } from './errors';
import {
  CredentialType,
  ExtensionType,
  keyPackageCodec,
  keyPackageTbsCodec,
  leafNodeTbsCodec,
  LeafNodeSource,
  mlsMessageCodec,
  ProposalType,
  ProtocolVersion,
  WireFormat,
  type Capabilities,
  type Credential,
  type Extension,
  type KeyPackage,
  type KeyPackageRef,
  type LeafNode,
  type LeafNodeData,
  type Lifetime,
  type MLSMessage,
} from './structs';
import { bytesEqual } from './tree-hash';
import { verifyLeafNodeSignature } from './tree-validation';

// ---- constants ----------------------------------------------------------------------------------

/** Default validity of a new KeyPackage after its creation: 28 days. */
export const DEFAULT_KEY_PACKAGE_LIFETIME_SECONDS = 28 * 24 * 60 * 60;

/** `not_before` is set this far in the past, for receivers whose clocks run behind: 1 hour. */
const KEY_PACKAGE_NOT_BEFORE_MARGIN_SECONDS = 60 * 60;

/**
 * The longest total lifetime (`not_after - not_before`) a received KeyPackage may have (§7.2:
 * "Applications MUST define a maximum total lifetime"): 84 days + 1 hour, the range openmls
 * creates by default, so that openmls KeyPackages are accepted and ours (28 days + 1 hour) too.
 */
export const DEFAULT_MAX_KEY_PACKAGE_LIFETIME_SECONDS = 84 * 24 * 60 * 60 + 60 * 60;

/**
 * The `last_resort` KeyPackage extension (mls-extensions-09 §"Last resort KeyPackages"; 0x000a is
 * the value openmls and mls-rs use). Its payload is empty. Not a default extension: it must be
 * listed in the leaf's capabilities.
 */
export const LAST_RESORT_EXTENSION_TYPE = 0x000a;

/** RFC 9420 §7.2 "default" extension types: never listed in capabilities, always supported. */
const DEFAULT_EXTENSION_TYPES: ReadonlySet<number> = new Set([
  ExtensionType.application_id,
  ExtensionType.ratchet_tree,
  ExtensionType.required_capabilities,
  ExtensionType.external_pub,
  ExtensionType.external_senders,
]);

/** RFC 9420 §7.2 "default" proposal types 1..7. */
const DEFAULT_PROPOSAL_TYPES: ReadonlySet<number> = new Set([1, 2, 3, 4, 5, 6, 7]);

export function isDefaultExtensionType(type: number): boolean {
  return DEFAULT_EXTENSION_TYPES.has(type);
}

export function isDefaultProposalType(type: number): boolean {
  return DEFAULT_PROPOSAL_TYPES.has(type);
}

// ---- capabilities ---------------------------------------------------------------------------------

export interface CapabilitiesOptions {
  /** Cipher suites to advertise (default: every suite this core implements). */
  readonly cipherSuites?: readonly number[];
  /** Non-default extension types supported on top of app_data_dictionary. */
  readonly extensions?: readonly number[];
  /** Non-default proposal types supported on top of AppDataUpdate and SelfRemove. */
  readonly proposals?: readonly number[];
  /** Credential types (default: basic). */
  readonly credentials?: readonly number[];
}

/**
 * The capabilities this core supports: version mls10, our cipher suites, the extensions-09
 * app_data_dictionary extension and AppDataUpdate / SelfRemove proposals, basic credentials.
 * Default types (§7.2) are never listed; duplicates are dropped; lists are sorted.
 */
export function defaultCapabilities(options: CapabilitiesOptions = {}): Capabilities {
  const uniq = (xs: Iterable<number>): number[] => [...new Set(xs)].sort((a, b) => a - b);
  return {
    versions: [ProtocolVersion.mls10],
    cipherSuites: uniq(options.cipherSuites ?? supportedCipherSuites.map((s) => s.id)),
    extensions: uniq(
      [ExtensionType.app_data_dictionary, ...(options.extensions ?? [])].filter((t) => !isDefaultExtensionType(t)),
    ),
    proposals: uniq(
      [ProposalType.app_data_update, ProposalType.self_remove, ...(options.proposals ?? [])].filter(
        (t) => !isDefaultProposalType(t),
      ),
    ),
    credentials: uniq(options.credentials ?? [CredentialType.basic]),
  };
}

// ---- creation --------------------------------------------------------------------------------------

export interface CreateKeyPackageInput {
  readonly suite: CipherSuite | number;
  readonly credential: Credential;
  /** The member's signature key pair (raw encodings of the suite's signature scheme). */
  readonly signatureKey: Uint8Array;
  readonly signaturePrivateKey: Uint8Array;
  /**
   * The leaf's capabilities. Default: `defaultCapabilities()` completed with the suite, the
   * credential type and the non-default types of `extensions` / `leafExtensions`. When given,
   * they are used as they are and must already cover all of those (else 'invalid').
   */
  readonly capabilities?: Capabilities;
  /** KeyPackage extensions. */
  readonly extensions?: readonly Extension[];
  /** LeafNode extensions. */
  readonly leafExtensions?: readonly Extension[];
  /** Add the (empty) last_resort KeyPackage extension. */
  readonly lastResort?: boolean;
  /** `not_after - now`, in seconds (default 28 days). */
  readonly lifetimeSeconds?: number;
  /** Current time in seconds since the Unix epoch (default: the system clock). */
  readonly now?: number | bigint;
}

export interface CreatedKeyPackage {
  readonly keyPackage: KeyPackage;
  /** The bare TLS KeyPackage. */
  readonly keyPackageBytes: Uint8Array;
  /** The KeyPackage as an MLSMessage (wire format mls_key_package), as published. */
  readonly mlsMessage: Uint8Array;
  /** KeyPackageRef = RefHash("MLS 1.0 KeyPackage Reference", KeyPackage). */
  readonly ref: KeyPackageRef;
  /** HPKE private key of `init_key` (opens the Welcome's GroupSecrets). Keep until used, then delete. */
  readonly initPrivateKey: Uint8Array;
  /** HPKE private key of the leaf's `encryption_key` (the member's leaf key once in a group). */
  readonly encryptionPrivateKey: Uint8Array;
}

function nowSeconds(now: number | bigint | undefined): bigint {
  if (now === undefined) return BigInt(Math.floor(Date.now() / 1000));
  return typeof now === 'bigint' ? now : BigInt(Math.floor(now));
}

function suiteOf(suite: CipherSuite | number): CipherSuite {
  return typeof suite === 'number' ? cipherSuiteById(suite) : suite;
}

/** The capabilities a KeyPackage needs for the given suite, credential and extensions. */
function completeCapabilities(
  base: Capabilities,
  suite: number,
  credential: Credential,
  extensions: readonly Extension[],
): Capabilities {
  const add = (list: readonly number[], more: readonly number[]): number[] => {
    const out = [...list];
    for (const x of more) if (!out.includes(x)) out.push(x);
    return out.sort((a, b) => a - b);
  };
  return {
    versions: add(base.versions, [ProtocolVersion.mls10]),
    cipherSuites: add(base.cipherSuites, [suite]),
    extensions: add(
      base.extensions,
      extensions.map((e) => e.extensionType).filter((t) => !isDefaultExtensionType(t)),
    ),
    proposals: [...base.proposals],
    credentials: add(base.credentials, [credential.credentialType]),
  };
}

/**
 * A fresh KeyPackage: new init and encryption HPKE key pairs, a leaf node with source
 * key_package and lifetime [now - 1 h, now + lifetimeSeconds], both signatures, its ref. The
 * result is checked with `validateKeyPackage` before it is returned (a bad signature key or
 * inconsistent explicit capabilities fail here, not at the receiver).
 */
export function createKeyPackage(input: CreateKeyPackageInput): CreatedKeyPackage {
  const suite = suiteOf(input.suite);
  const lifetimeSeconds = input.lifetimeSeconds ?? DEFAULT_KEY_PACKAGE_LIFETIME_SECONDS;
  if (!Number.isInteger(lifetimeSeconds) || lifetimeSeconds <= 0) {
    mlsFail('invalid', `KeyPackage lifetime ${lifetimeSeconds} s is not a positive integer`);
  }
  const now = nowSeconds(input.now);
  const lifetime: Lifetime = {
    notBefore: now - BigInt(KEY_PACKAGE_NOT_BEFORE_MARGIN_SECONDS),
    notAfter: now + BigInt(lifetimeSeconds),
  };
  const kpExtensions: Extension[] = [...(input.extensions ?? [])];
  if (input.lastResort && !kpExtensions.some((e) => e.extensionType === LAST_RESORT_EXTENSION_TYPE)) {
    kpExtensions.push({ extensionType: LAST_RESORT_EXTENSION_TYPE, extensionData: new Uint8Array(0) });
  }
  const leafExtensions: Extension[] = [...(input.leafExtensions ?? [])];
  const capabilities =
    input.capabilities ??
    completeCapabilities(defaultCapabilities(), suite.id, input.credential, [...kpExtensions, ...leafExtensions]);

  const init = suite.hpkeGenerateKeyPair();
  const encryption = suite.hpkeGenerateKeyPair();
  const leafData: LeafNodeData = {
    encryptionKey: encryption.publicKey,
    signatureKey: input.signatureKey,
    credential: input.credential,
    capabilities,
    leafNodeSource: LeafNodeSource.key_package,
    lifetime,
    extensions: leafExtensions,
  };
  const leafTbs = encodeValue({ leafNode: leafData }, leafNodeTbsCodec);
  const leafNode: LeafNode = {
    ...leafData,
    signature: signWithLabel(suite, input.signaturePrivateKey, 'LeafNodeTBS', leafTbs),
  };
  const tbs = {
    version: ProtocolVersion.mls10,
    cipherSuite: suite.id,
    initKey: init.publicKey,
    leafNode,
    extensions: kpExtensions,
  };
  const keyPackage: KeyPackage = {
    ...tbs,
    signature: signWithLabel(suite, input.signaturePrivateKey, 'KeyPackageTBS', encodeValue(tbs, keyPackageTbsCodec)),
  };
  validateKeyPackage(keyPackage, { now });
  const keyPackageBytes = encodeValue(keyPackage, keyPackageCodec);
  return {
    keyPackage,
    keyPackageBytes,
    mlsMessage: encodeValue(
      { version: ProtocolVersion.mls10, wireFormat: WireFormat.mls_key_package, keyPackage },
      mlsMessageCodec,
    ),
    ref: makeKeyPackageRef(suite, keyPackageBytes),
    initPrivateKey: init.privateKey,
    encryptionPrivateKey: encryption.privateKey,
  };
}

/** KeyPackageRef of a KeyPackage (RFC 9420 §5.2), over its encoding. */
export function keyPackageRef(keyPackage: KeyPackage, suite?: CipherSuite): KeyPackageRef {
  return makeKeyPackageRef(suite ?? cipherSuiteById(keyPackage.cipherSuite), encodeValue(keyPackage, keyPackageCodec));
}

// ---- decoding and validation -------------------------------------------------------------------------

/**
 * A KeyPackage from the bytes of an MLSMessage (mls_key_package) or of a bare KeyPackage.
 * For an MLSMessage the KeyPackage's version must equal the message's (§10). Only syntax: call
 * `validateKeyPackage` before use.
 */
export function decodeKeyPackage(bytes: Uint8Array): KeyPackage {
  // A bare KeyPackage starts with version 0x0001 and its cipher suite; an MLSMessage KeyPackage
  // with version 0x0001 and wire format 0x0005. Only suite 5 (P-521, not implemented here) makes
  // the prefixes collide: that reading is tried as an MLSMessage first, then as a bare KeyPackage.
  if (bytes.length >= 4 && bytes[0] === 0 && bytes[1] === 1 && bytes[2] === 0 && bytes[3] === 5) {
    let message: MLSMessage | undefined;
    try {
      message = decodeAll(bytes, mlsMessageCodec);
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
    }
    if (message?.wireFormat === WireFormat.mls_key_package) {
      if (message.keyPackage.version !== message.version) {
        mlsFail('invalid', 'KeyPackage version differs from its MLSMessage version');
      }
      return message.keyPackage;
    }
  }
  return decodeAll(bytes, keyPackageCodec);
}

export interface KeyPackageValidationOptions {
  /** The cipher suite it must be for (the group's), when known. */
  readonly cipherSuite?: number;
  /** Current time in seconds since the Unix epoch (default: the system clock). */
  readonly now?: number | bigint;
  /**
   * Longest acceptable `not_after - not_before` (default `DEFAULT_MAX_KEY_PACKAGE_LIFETIME_SECONDS`);
   * null (or Infinity) for no bound, e.g. for the working group's vectors (not_after = 2^64 - 1).
   */
  readonly maxLifetimeSeconds?: number | null;
  /** Skip the lifetime check against `now` (the range check stays); default false. */
  readonly ignoreExpiry?: boolean;
}

/**
 * RFC 9420 §10.1 and the KeyPackage-local parts of §7.3, in this order:
 *  - version mls10, a cipher suite we implement (and `options.cipherSuite` if given);
 *  - leaf_node_source key_package; the leaf's signature over LeafNodeTBS (no group context);
 *  - the KeyPackage signature over KeyPackageTBS with the leaf's signature key;
 *  - init_key ≠ leaf encryption_key;
 *  - lifetime: not_before ≤ now < not_after, total range at most `maxLifetimeSeconds`;
 *  - capabilities: list the KeyPackage's version and suite and the leaf's credential type,
 *    and every non-default extension type of the KeyPackage's and the leaf's extensions.
 * Group-level checks (required_capabilities, credential types of other members, unique keys)
 * are the group's (`group/leaf-validation.ts`). Throws MlsProtocolError ('unsupported',
 * 'badSignature' or 'invalid').
 */
export function validateKeyPackage(keyPackage: KeyPackage, options: KeyPackageValidationOptions = {}): void {
  if (keyPackage.version !== ProtocolVersion.mls10) mlsFail('invalid', `KeyPackage version ${keyPackage.version}`);
  if (options.cipherSuite !== undefined && keyPackage.cipherSuite !== options.cipherSuite) {
    mlsFail('invalid', `KeyPackage cipher suite ${keyPackage.cipherSuite}, expected ${options.cipherSuite}`);
  }
  const suite = cipherSuiteById(keyPackage.cipherSuite);
  const leaf = keyPackage.leafNode;
  if (leaf.leafNodeSource !== LeafNodeSource.key_package) {
    return mlsFail('invalid', `KeyPackage leaf_node_source is ${leaf.leafNodeSource}, not key_package`);
  }
  if (!verifyLeafNodeSignature(suite, leaf, new Uint8Array(0), 0)) {
    mlsFail('badSignature', 'KeyPackage leaf node signature does not verify');
  }
  const tbs = encodeValue(keyPackage, keyPackageTbsCodec);
  if (!verifyWithLabel(suite, leaf.signatureKey, 'KeyPackageTBS', tbs, keyPackage.signature)) {
    mlsFail('badSignature', 'KeyPackage signature does not verify');
  }
  if (bytesEqual(keyPackage.initKey, leaf.encryptionKey)) {
    mlsFail('invalid', 'KeyPackage init_key equals its leaf encryption_key');
  }
  checkLifetime(leaf.lifetime, options);
  const caps = leaf.capabilities;
  if (!caps.versions.includes(keyPackage.version)) {
    mlsFail('invalid', `KeyPackage capabilities do not list its version ${keyPackage.version}`);
  }
  if (!caps.cipherSuites.includes(keyPackage.cipherSuite)) {
    mlsFail('invalid', `KeyPackage capabilities do not list its cipher suite ${keyPackage.cipherSuite}`);
  }
  if (!caps.credentials.includes(leaf.credential.credentialType)) {
    mlsFail('invalid', `KeyPackage capabilities do not list its credential type ${leaf.credential.credentialType}`);
  }
  for (const [where, list] of [
    ['KeyPackage', keyPackage.extensions],
    ['leaf node', leaf.extensions],
  ] as const) {
    for (const e of list) {
      if (!isDefaultExtensionType(e.extensionType) && !caps.extensions.includes(e.extensionType)) {
        mlsFail('invalid', `${where} extension ${e.extensionType} is not in the leaf's capabilities`);
      }
    }
  }
}

function checkLifetime(lifetime: Lifetime, options: KeyPackageValidationOptions): void {
  const maxOption =
    options.maxLifetimeSeconds === undefined ? DEFAULT_MAX_KEY_PACKAGE_LIFETIME_SECONDS : options.maxLifetimeSeconds;
  const max = maxOption === null || maxOption === Infinity ? undefined : BigInt(maxOption);
  if (lifetime.notAfter < lifetime.notBefore) {
    mlsFail('invalid', `KeyPackage lifetime ends (${lifetime.notAfter}) before it starts (${lifetime.notBefore})`);
  }
  if (max !== undefined && lifetime.notAfter - lifetime.notBefore > max) {
    mlsFail('invalid', `KeyPackage lifetime of ${lifetime.notAfter - lifetime.notBefore} s is longer than ${max} s`);
  }
  if (options.ignoreExpiry) return;
  const now = nowSeconds(options.now);
  if (now < lifetime.notBefore) mlsFail('invalid', `KeyPackage not valid before ${lifetime.notBefore} (now ${now})`);
  if (now >= lifetime.notAfter) mlsFail('invalid', `KeyPackage expired at ${lifetime.notAfter} (now ${now})`);
}

/** Whether the KeyPackage carries the last_resort extension. */
export function isLastResort(keyPackage: KeyPackage): boolean {
  return keyPackage.extensions.some((e) => e.extensionType === LAST_RESORT_EXTENSION_TYPE);
}
