/** KeyPackage creation and §10.1 validation (key-package.ts). Interop with openmls: test/interop/core-openmls.spec.ts. */
import { encodeValue } from '../../codec/tls-codec';
import {
  cipherSuiteById,
  makeKeyPackageRef,
  MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519,
  signWithLabel,
  supportedCipherSuites,
  type CipherSuite,
} from './crypto';
import { MlsProtocolError } from './errors';
import {
  createKeyPackage,
  decodeKeyPackage,
  DEFAULT_KEY_PACKAGE_LIFETIME_SECONDS,
  DEFAULT_MAX_KEY_PACKAGE_LIFETIME_SECONDS,
  defaultCapabilities,
  isLastResort,
  keyPackageRef,
  LAST_RESORT_EXTENSION_TYPE,
  validateKeyPackage,
  type CreatedKeyPackage,
} from './key-package';
import {
  CredentialType,
  decodeMlsMessageAs,
  ExtensionType,
  keyPackageCodec,
  keyPackageTbsCodec,
  leafNodeData,
  leafNodeTbsCodec,
  LeafNodeSource,
  ProposalType,
  WireFormat,
  type Credential,
  type KeyPackage,
  type LeafNode,
  type LeafNodeData,
} from './structs';

const suite1 = MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;
const NOW = 1_780_000_000;
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const basic = (id: string): Credential => ({ credentialType: CredentialType.basic, identity: utf8(id) });

interface Made extends CreatedKeyPackage {
  signaturePrivateKey: Uint8Array;
}

function make(suite: CipherSuite = suite1, extra: Partial<Parameters<typeof createKeyPackage>[0]> = {}): Made {
  const sig = suite.signatureGenerateKeyPair();
  const made = createKeyPackage({
    suite,
    credential: basic('mimi://a.example/u/alice'),
    signatureKey: sig.publicKey,
    signaturePrivateKey: sig.privateKey,
    now: NOW,
    ...extra,
  });
  return { ...made, signaturePrivateKey: sig.privateKey };
}

/** The KeyPackage with its leaf node changed by `leafChange` and `kpChange`, both signatures redone. */
function resigned(
  made: Made,
  change: { leaf?: (l: LeafNodeData) => LeafNodeData; kp?: (kp: KeyPackage) => KeyPackage } = {},
): KeyPackage {
  const suite = cipherSuiteById(made.keyPackage.cipherSuite);
  let leafData = leafNodeData(made.keyPackage.leafNode);
  if (change.leaf) leafData = change.leaf(leafData);
  const leafNode = {
    ...leafData,
    signature: signWithLabel(
      suite,
      made.signaturePrivateKey,
      'LeafNodeTBS',
      encodeValue(
        {
          leafNode: leafData,
          ...(leafData.leafNodeSource === LeafNodeSource.key_package
            ? {}
            : { binding: { groupId: new Uint8Array(0), leafIndex: 0 } }),
        },
        leafNodeTbsCodec,
      ),
    ),
  } as LeafNode;
  let kp: KeyPackage = { ...made.keyPackage, leafNode };
  if (change.kp) kp = change.kp(kp);
  return {
    ...kp,
    signature: signWithLabel(suite, made.signaturePrivateKey, 'KeyPackageTBS', encodeValue(kp, keyPackageTbsCodec)),
  };
}

function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof MlsProtocolError) return `${e.failure}: ${e.message}`;
    throw e;
  }
  throw new Error('did not throw');
}

describe('defaultCapabilities', () => {
  it('lists the extensions-09 types we support and our suites, never a default type', () => {
    expect(defaultCapabilities()).toEqual({
      versions: [1],
      cipherSuites: supportedCipherSuites.map((x) => x.id).sort((a, b) => a - b),
      extensions: [ExtensionType.app_data_dictionary],
      proposals: [ProposalType.app_data_update, ProposalType.self_remove],
      credentials: [CredentialType.basic],
    });
    const more = defaultCapabilities({ extensions: [0xf000, ExtensionType.external_senders], proposals: [3, 0xf001] });
    expect(more.extensions).toEqual([6, 0xf000]);
    expect(more.proposals).toEqual([8, 10, 0xf001]);
  });
});

describe('createKeyPackage', () => {
  it.each(supportedCipherSuites.map((s) => s.id))(
    'makes a valid, decodable KeyPackage for suite %i with its ref and private keys',
    (id) => {
      const suite = cipherSuiteById(id);
      const made = make(suite);
      const kp = made.keyPackage;
      expect(kp.version).toBe(1);
      expect(kp.cipherSuite).toBe(id);
      expect(kp.leafNode.leafNodeSource).toBe(LeafNodeSource.key_package);
      expect(hex(made.keyPackageBytes)).toBe(hex(encodeValue(kp, keyPackageCodec)));
      expect(hex(made.mlsMessage)).toBe('00010005' + hex(made.keyPackageBytes));
      expect(decodeMlsMessageAs(made.mlsMessage, WireFormat.mls_key_package).keyPackage).toEqual(kp);
      expect(hex(made.ref)).toBe(hex(makeKeyPackageRef(suite, made.keyPackageBytes)));
      expect(hex(keyPackageRef(kp))).toBe(hex(made.ref));
      expect(made.ref).toHaveLength(suite.hashLength);
      expect(() => validateKeyPackage(kp, { now: NOW, cipherSuite: id })).not.toThrow();

      // The private keys open what is sealed to the public ones.
      for (const [pub, priv] of [
        [kp.initKey, made.initPrivateKey],
        [kp.leafNode.encryptionKey, made.encryptionPrivateKey],
      ] as const) {
        const sealed = suite.hpkeSeal(pub, utf8('info'), utf8('aad'), utf8('secret'));
        expect(suite.hpkeOpen(priv, sealed.kemOutput, utf8('info'), utf8('aad'), sealed.ciphertext)).toEqual(
          utf8('secret'),
        );
      }
      expect(hex(kp.initKey)).not.toBe(hex(kp.leafNode.encryptionKey));
    },
  );

  it('sets the lifetime to [now - 1 h, now + 28 days] by default, or the configured length', () => {
    const lt = (m: Made) => (m.keyPackage.leafNode.leafNodeSource === 1 ? m.keyPackage.leafNode.lifetime : undefined);
    expect(lt(make())).toEqual({
      notBefore: BigInt(NOW - 3600),
      notAfter: BigInt(NOW + DEFAULT_KEY_PACKAGE_LIFETIME_SECONDS),
    });
    expect(DEFAULT_KEY_PACKAGE_LIFETIME_SECONDS).toBe(28 * 86400);
    expect(lt(make(suite1, { lifetimeSeconds: 7 * 86400 }))).toEqual({
      notBefore: BigInt(NOW - 3600),
      notAfter: BigInt(NOW + 7 * 86400),
    });
    expect(failure(() => make(suite1, { lifetimeSeconds: 0 }))).toMatch(/^invalid: .*lifetime/);
    // Longer than receivers accept: refused at creation already.
    expect(failure(() => make(suite1, { lifetimeSeconds: DEFAULT_MAX_KEY_PACKAGE_LIFETIME_SECONDS }))).toMatch(
      /longer than/,
    );
  });

  it('uses the system clock when no time is given', () => {
    const sig = suite1.signatureGenerateKeyPair();
    const made = createKeyPackage({
      suite: 1,
      credential: basic('x'),
      signatureKey: sig.publicKey,
      signaturePrivateKey: sig.privateKey,
    });
    expect(() => validateKeyPackage(made.keyPackage)).not.toThrow();
  });

  it('lists the non-default types of its extensions in the default capabilities', () => {
    const made = make(suite1, {
      extensions: [
        { extensionType: 0xf0a1, extensionData: utf8('kp') },
        { extensionType: ExtensionType.application_id, extensionData: new Uint8Array([1, 0x61]) },
      ],
      leafExtensions: [{ extensionType: 0xf0a2, extensionData: utf8('leaf') }],
      lastResort: true,
    });
    const caps = made.keyPackage.leafNode.capabilities;
    expect(caps.extensions).toEqual([6, LAST_RESORT_EXTENSION_TYPE, 0xf0a1, 0xf0a2]);
    expect(caps.proposals).toEqual([8, 10]);
    expect(isLastResort(made.keyPackage)).toBe(true);
    expect(isLastResort(make().keyPackage)).toBe(false);
    expect(made.keyPackage.extensions.map((e) => e.extensionType)).toEqual([0xf0a1, 1, LAST_RESORT_EXTENSION_TYPE]);
    expect(made.keyPackage.leafNode.extensions.map((e) => e.extensionType)).toEqual([0xf0a2]);
  });

  it('refuses explicit capabilities that miss its extensions, credential or suite', () => {
    const caps = defaultCapabilities();
    expect(
      failure(() =>
        make(suite1, { capabilities: caps, extensions: [{ extensionType: 0xf0a1, extensionData: utf8('') }] }),
      ),
    ).toMatch(/^invalid: KeyPackage extension 61601 is not in the leaf's capabilities/);
    expect(
      failure(() =>
        make(suite1, { capabilities: caps, leafExtensions: [{ extensionType: 0xf0a1, extensionData: utf8('') }] }),
      ),
    ).toMatch(/leaf node extension 61601/);
    expect(failure(() => make(suite1, { capabilities: { ...caps, credentials: [2] } }))).toMatch(/credential type 1/);
    expect(failure(() => make(suite1, { capabilities: { ...caps, cipherSuites: [2, 3] } }))).toMatch(/cipher suite 1/);
    expect(failure(() => make(suite1, { capabilities: { ...caps, versions: [] } }))).toMatch(/version 1/);
    // Default extension types need not be listed.
    expect(() =>
      make(suite1, { capabilities: caps, extensions: [{ extensionType: 1, extensionData: new Uint8Array([0]) }] }),
    ).not.toThrow();
  });

  it('refuses a signature key that does not match the private key (the result would not verify)', () => {
    const other = suite1.signatureGenerateKeyPair();
    const sig = suite1.signatureGenerateKeyPair();
    expect(
      failure(() =>
        createKeyPackage({
          suite: suite1,
          credential: basic('x'),
          signatureKey: other.publicKey,
          signaturePrivateKey: sig.privateKey,
          now: NOW,
        }),
      ),
    ).toMatch(/^badSignature: /);
  });

  it('makes fresh keys every time', () => {
    const a = make();
    const b = make();
    expect(hex(a.keyPackage.initKey)).not.toBe(hex(b.keyPackage.initKey));
    expect(hex(a.keyPackage.leafNode.encryptionKey)).not.toBe(hex(b.keyPackage.leafNode.encryptionKey));
    expect(hex(a.ref)).not.toBe(hex(b.ref));
  });
});

describe('validateKeyPackage', () => {
  const made = make();
  const ok = (kp: KeyPackage, opts = {}) => validateKeyPackage(kp, { now: NOW, ...opts });

  it('accepts a KeyPackage re-signed without change (the helper below is sound)', () => {
    expect(() => ok(resigned(made))).not.toThrow();
  });

  it('checks the cipher suite: expected one, and one we implement', () => {
    expect(failure(() => ok(made.keyPackage, { cipherSuite: 2 }))).toBe(
      'invalid: KeyPackage cipher suite 1, expected 2',
    );
    expect(failure(() => ok({ ...made.keyPackage, cipherSuite: 0xf0f0 }))).toMatch(/^unsupported: cipher suite 61680/);
  });

  it('checks both signatures', () => {
    const sigFlip = (s: Uint8Array) => s.map((x, i) => (i === 0 ? x ^ 1 : x));
    expect(failure(() => ok({ ...made.keyPackage, signature: sigFlip(made.keyPackage.signature) }))).toBe(
      'badSignature: KeyPackage signature does not verify',
    );
    const leaf = made.keyPackage.leafNode;
    expect(failure(() => ok({ ...made.keyPackage, leafNode: { ...leaf, signature: sigFlip(leaf.signature) } }))).toBe(
      'badSignature: KeyPackage leaf node signature does not verify',
    );
    // A KeyPackage signature made over anything else (the leaf signed correctly, KP field changed after).
    expect(failure(() => ok({ ...made.keyPackage, initKey: make().keyPackage.initKey }))).toBe(
      'badSignature: KeyPackage signature does not verify',
    );
  });

  it('refuses init_key = encryption_key', () => {
    const kp = resigned(made, { kp: (k) => ({ ...k, initKey: k.leafNode.encryptionKey }) });
    expect(failure(() => ok(kp))).toBe('invalid: KeyPackage init_key equals its leaf encryption_key');
  });

  it('refuses a leaf whose source is not key_package', () => {
    const kp = resigned(made, {
      leaf: (l) => {
        const { lifetime: _lt, leafNodeSource: _s, ...rest } = l as LeafNodeData & { lifetime: unknown };
        return { ...rest, leafNodeSource: LeafNodeSource.update } as LeafNodeData;
      },
    });
    expect(failure(() => ok(kp))).toBe('invalid: KeyPackage leaf_node_source is 2, not key_package');
  });

  it('checks the lifetime: not yet valid, expired, too long (with an option to skip expiry)', () => {
    const notBefore = BigInt(NOW - 3600);
    const notAfter = BigInt(NOW + DEFAULT_KEY_PACKAGE_LIFETIME_SECONDS);
    expect(failure(() => ok(made.keyPackage, { now: NOW - 3601 }))).toMatch(/^invalid: KeyPackage not valid before/);
    expect(() => ok(made.keyPackage, { now: NOW - 3600 })).not.toThrow();
    expect(() => ok(made.keyPackage, { now: Number(notAfter) - 1 })).not.toThrow();
    expect(failure(() => ok(made.keyPackage, { now: Number(notAfter) }))).toMatch(/^invalid: KeyPackage expired at/);
    expect(() => ok(made.keyPackage, { now: Number(notAfter) + 10, ignoreExpiry: true })).not.toThrow();
    expect(failure(() => ok(made.keyPackage, { maxLifetimeSeconds: 86400 }))).toMatch(/is longer than 86400 s/);
    const setLifetime = (nb: bigint, na: bigint) =>
      resigned(made, { leaf: (l) => ({ ...l, leafNodeSource: 1, lifetime: { notBefore: nb, notAfter: na } }) });
    expect(failure(() => ok(setLifetime(notAfter, notBefore)))).toMatch(/ends .* before it starts/);
    // openmls's default range (84 days + 1 h) is accepted; one second more is not.
    const max = BigInt(DEFAULT_MAX_KEY_PACKAGE_LIFETIME_SECONDS);
    expect(() => ok(setLifetime(notBefore, notBefore + max))).not.toThrow();
    expect(failure(() => ok(setLifetime(notBefore, notBefore + max + 1n)))).toMatch(/longer than/);
    // No bound when asked (the working group's vectors use not_after = 2^64 - 1).
    const forever = setLifetime(0n, 2n ** 64n - 1n);
    expect(() => ok(forever, { maxLifetimeSeconds: null })).not.toThrow();
    expect(() => ok(forever, { maxLifetimeSeconds: Infinity })).not.toThrow();
    expect(failure(() => ok(forever))).toMatch(/longer than/);
  });

  it('checks that the capabilities cover the extensions, the credential type, the version and suite', () => {
    const withExt = resigned(made, {
      kp: (k) => ({ ...k, extensions: [{ extensionType: 0xf0f0, extensionData: utf8('') }] }),
    });
    expect(failure(() => ok(withExt))).toBe("invalid: KeyPackage extension 61680 is not in the leaf's capabilities");
    const leafExt = resigned(made, {
      leaf: (l) => ({ ...l, extensions: [{ extensionType: 0xf0f0, extensionData: utf8('') }] }),
    });
    expect(failure(() => ok(leafExt))).toBe("invalid: leaf node extension 61680 is not in the leaf's capabilities");
    // Default extension types need not be listed (external_senders in a KeyPackage: odd but allowed).
    const defaultExt = resigned(made, {
      kp: (k) => ({
        ...k,
        extensions: [{ extensionType: ExtensionType.external_senders, extensionData: new Uint8Array([0]) }],
      }),
    });
    expect(() => ok(defaultExt)).not.toThrow();
    const x509 = resigned(made, {
      leaf: (l) => ({ ...l, credential: { credentialType: CredentialType.x509, certificates: [] } }),
    });
    expect(failure(() => ok(x509))).toBe('invalid: KeyPackage capabilities do not list its credential type 2');
    const noSuite = resigned(made, { leaf: (l) => ({ ...l, capabilities: { ...l.capabilities, cipherSuites: [2] } }) });
    expect(failure(() => ok(noSuite))).toBe('invalid: KeyPackage capabilities do not list its cipher suite 1');
  });
});

describe('decodeKeyPackage', () => {
  it('reads the MLSMessage form and the bare form alike', () => {
    const made = make();
    expect(decodeKeyPackage(made.mlsMessage)).toEqual(made.keyPackage);
    expect(decodeKeyPackage(made.keyPackageBytes)).toEqual(made.keyPackage);
    // Every suite, suite 5 (P-521) included: its bare KeyPackage starts like an MLSMessage KeyPackage.
    for (const { id } of supportedCipherSuites) {
      const other = make(cipherSuiteById(id));
      expect(decodeKeyPackage(other.mlsMessage)).toEqual(other.keyPackage);
      expect(decodeKeyPackage(other.keyPackageBytes)).toEqual(other.keyPackage);
    }
  });

  it('rejects trailing bytes and other MLSMessages', () => {
    const made = make();
    expect(() => decodeKeyPackage(new Uint8Array([...made.keyPackageBytes, 0]))).toThrow(/trailing/);
    expect(() => decodeKeyPackage(new Uint8Array([...made.mlsMessage, 0]))).toThrow();
    expect(() => decodeKeyPackage(new Uint8Array([0, 1]))).toThrow();
  });
});
