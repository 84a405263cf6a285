/** Welcome crypto (RFC 9420 §12.4.3): the working group's welcome vectors and our own round trips. */
import { encodeValue } from '../../codec/tls-codec';
import { hex, loadMlsVectors, VectorTally } from '../../../test/support/mls-vectors';
import { makeKeyPackageRef } from './crypto/labeled';
import { cipherSuiteById, isSupportedCipherSuite, MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519 } from './crypto/suites';
import { decodeMlsMessage } from './framing';
import { epochSecretsFromJoiner, externalKeyPair, verifyConfirmationTag } from './key-schedule';
import {
  externalPubExtension,
  findExtension,
  groupContextCodec,
  ProtocolVersion,
  WireFormat,
  type GroupContext,
} from './structs';
import {
  createGroupInfo,
  createWelcome,
  decryptGroupInfo,
  decryptGroupSecrets,
  encryptGroupInfo,
  findGroupSecrets,
  openWelcome,
  signGroupInfo,
  verifyGroupInfo,
} from './welcome';

interface WelcomeVector {
  cipher_suite: number;
  init_priv: string;
  signer_pub: string;
  key_package: string;
  welcome: string;
}

const vectors = loadMlsVectors<WelcomeVector>('welcome');
const tally = new VectorTally('welcome');

afterAll(() => {
  tally.report();
});

describe('welcome vectors', () => {
  const supported = vectors.filter((v) => isSupportedCipherSuite(v.cipher_suite));
  for (const v of vectors) {
    if (!isSupportedCipherSuite(v.cipher_suite)) tally.skip(`cipher suite ${v.cipher_suite} not implemented`);
  }

  it.each(supported.map((v) => [v.cipher_suite, v] as const))('cipher suite %i', (_, v) => {
    const suite = cipherSuiteById(v.cipher_suite);
    const kpBytes = hex(v.key_package);
    const kpMessage = decodeMlsMessage(kpBytes);
    const welcomeMessage = decodeMlsMessage(hex(v.welcome));
    if (kpMessage.wireFormat !== WireFormat.mls_key_package) throw new Error('key_package is not a KeyPackage');
    if (welcomeMessage.wireFormat !== WireFormat.mls_welcome) throw new Error('welcome is not a Welcome');

    // KeyPackageRef over the KeyPackage (the MLSMessage minus its version and wire_format).
    const ref = makeKeyPackageRef(suite, kpBytes.subarray(4));
    const secrets = openWelcome(suite, welcomeMessage.welcome, ref, hex(v.init_priv));
    expect(secrets.psks).toEqual([]);

    // welcome_secret does not depend on the GroupContext: derive it, decrypt, then the real epoch.
    const { welcomeSecret } = epochSecretsFromJoiner(suite, secrets.joinerSecret, new Uint8Array(0));
    const groupInfo = decryptGroupInfo(suite, welcomeSecret, welcomeMessage.welcome.encryptedGroupInfo);
    verifyGroupInfo(suite, groupInfo, hex(v.signer_pub));
    expect(groupInfo.groupContext.cipherSuite).toBe(kpMessage.keyPackage.cipherSuite);

    const epoch = epochSecretsFromJoiner(
      suite,
      secrets.joinerSecret,
      encodeValue(groupInfo.groupContext, groupContextCodec),
    );
    expect(
      verifyConfirmationTag(
        suite,
        epoch.confirmationKey,
        groupInfo.groupContext.confirmedTranscriptHash,
        groupInfo.confirmationTag,
      ),
    ).toBe(true);
    tally.pass();
  });

  it('checks every vector of a supported suite', () => {
    expect(supported.length).toBeGreaterThan(0);
    expect(tally.passed).toBe(supported.length);
  });
});

describe('welcome crypto', () => {
  const suite = MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;
  const signer = suite.signatureGenerateKeyPair();
  const groupContext: GroupContext = {
    version: ProtocolVersion.mls10,
    cipherSuite: suite.id,
    groupId: new Uint8Array([1, 2, 3]),
    epoch: 7n,
    treeHash: suite.randomBytes(32),
    confirmedTranscriptHash: suite.randomBytes(32),
    extensions: [],
  };
  const confirmationTag = suite.randomBytes(32);
  const welcomeSecret = suite.randomBytes(32);
  const joinerSecret = suite.randomBytes(32);

  function groupInfo(externalSecret?: Uint8Array) {
    return createGroupInfo(suite, {
      groupContext,
      extensions: [],
      confirmationTag,
      signer: 3,
      signaturePrivateKey: signer.privateKey,
      externalSecret,
    });
  }

  it('signs and verifies a GroupInfo; any change breaks the signature', () => {
    const gi = groupInfo();
    expect(() => verifyGroupInfo(suite, gi, signer.publicKey)).not.toThrow();
    expect(() => verifyGroupInfo(suite, { ...gi, signer: 4 }, signer.publicKey)).toThrow(
      expect.objectContaining({ failure: 'badSignature' }),
    );
    const other = suite.signatureGenerateKeyPair();
    expect(() => verifyGroupInfo(suite, gi, other.publicKey)).toThrow(
      expect.objectContaining({ failure: 'badSignature' }),
    );
  });

  it('advertises external_pub = DeriveKeyPair(external_secret).public', () => {
    const externalSecret = suite.randomBytes(32);
    const gi = groupInfo(externalSecret);
    expect(findExtension(gi.extensions, externalPubExtension)?.externalPub).toEqual(
      externalKeyPair(suite, externalSecret).publicKey,
    );
    expect(() => verifyGroupInfo(suite, gi, signer.publicKey)).not.toThrow();
  });

  it('signGroupInfo ignores a signature already on its input', () => {
    const gi = groupInfo();
    const again = signGroupInfo(suite, { ...gi, signature: new Uint8Array(3) } as never, signer.privateKey);
    expect(() => verifyGroupInfo(suite, again, signer.publicKey)).not.toThrow();
  });

  it('creates a Welcome for two members that each open; a stranger finds nothing', () => {
    const alice = { init: suite.hpkeGenerateKeyPair(), ref: suite.randomBytes(32) };
    const bob = { init: suite.hpkeGenerateKeyPair(), ref: suite.randomBytes(32) };
    const pathSecret = suite.randomBytes(32);
    const gi = groupInfo();
    const welcome = createWelcome(suite, {
      groupInfo: gi,
      welcomeSecret,
      joinerSecret,
      psks: [],
      recipients: [
        { keyPackageRef: alice.ref, initKey: alice.init.publicKey },
        { keyPackageRef: bob.ref, initKey: bob.init.publicKey, pathSecret },
      ],
    });
    expect(welcome.cipherSuite).toBe(suite.id);

    const a = openWelcome(suite, welcome, alice.ref, alice.init.privateKey);
    expect(a).toEqual({ joinerSecret, psks: [] });
    const b = openWelcome(suite, welcome, bob.ref, bob.init.privateKey);
    expect(b).toEqual({ joinerSecret, pathSecret: { pathSecret }, psks: [] });
    expect(decryptGroupInfo(suite, welcomeSecret, welcome.encryptedGroupInfo)).toEqual(gi);

    expect(findGroupSecrets(welcome, suite.randomBytes(32))).toBeUndefined();
    expect(() => openWelcome(suite, welcome, suite.randomBytes(32), alice.init.privateKey)).toThrow(
      expect.objectContaining({ failure: 'notFound' }),
    );
    // Bob's entry with Alice's key.
    expect(() => openWelcome(suite, welcome, bob.ref, alice.init.privateKey)).toThrow(
      expect.objectContaining({ failure: 'decryptFailed' }),
    );
    expect(() => openWelcome(suite, { ...welcome, cipherSuite: 2 }, alice.ref, alice.init.privateKey)).toThrow(
      expect.objectContaining({ failure: 'invalid' }),
    );
  });

  it('binds the GroupSecrets to the encrypted GroupInfo and refuses tampered ciphertexts', () => {
    const member = suite.hpkeGenerateKeyPair();
    const ref = suite.randomBytes(32);
    const welcome = createWelcome(suite, {
      groupInfo: groupInfo(),
      welcomeSecret,
      joinerSecret,
      psks: [],
      recipients: [{ keyPackageRef: ref, initKey: member.publicKey }],
    });
    const swapped = encryptGroupInfo(suite, welcomeSecret, groupInfo(suite.randomBytes(32)));
    const entry = findGroupSecrets(welcome, ref)!;
    expect(() => decryptGroupSecrets(suite, member.privateKey, swapped, entry.encryptedGroupSecrets)).toThrow(
      expect.objectContaining({ failure: 'decryptFailed' }),
    );
    const tampered = Uint8Array.from(welcome.encryptedGroupInfo);
    tampered[5]! ^= 1;
    expect(() => decryptGroupInfo(suite, welcomeSecret, tampered)).toThrow(
      expect.objectContaining({ failure: 'decryptFailed' }),
    );
    expect(() => decryptGroupInfo(suite, suite.randomBytes(32), welcome.encryptedGroupInfo)).toThrow(
      expect.objectContaining({ failure: 'decryptFailed' }),
    );
  });
});
