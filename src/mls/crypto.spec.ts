import { Logger } from '@nestjs/common';
import fc from 'fast-check';
import { MlsCryptoBackend, mlsCiphersuite, nodeEd25519, nodeHash, nodeKdf } from './crypto';
import { HubExternalSender } from './credentials';
import {
  ALICE,
  CATHY,
  FOLLOWER_DOMAIN,
  FakeProvider,
  HELLO_FROM_ALICE,
  HELLO_FROM_CATHY,
  HUB_DOMAIN,
  ROLE_ADMIN,
  ROLE_MEMBER,
  ROOM_URI,
  asParticipant,
} from './mls.fixtures';
import { RoomGroup } from './room-group';

const fromHex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** RFC 8032 §7.1 TEST 1 (empty message). */
const RFC8032_SECRET = fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
const RFC8032_PUBLIC = fromHex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
const RFC8032_SIGNATURE =
  'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b';

/** RFC 5869 Appendix A.1 (HKDF-SHA256, basic test case). */
const RFC5869_IKM = fromHex('0b'.repeat(22));
const RFC5869_SALT = fromHex('000102030405060708090a0b0c');
const RFC5869_INFO = fromHex('f0f1f2f3f4f5f6f7f8f9');
const RFC5869_PRK = '077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5';
const RFC5869_OKM = '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865';
const RFC5869_LENGTH = 42;

const MESSAGE = new TextEncoder().encode('SignWithLabel content');
const bytes = (maxLength: number) => fc.uint8Array({ maxLength });
const macKey = fc.uint8Array({ minLength: 1, maxLength: 80 });
/** MLS extracts with a HashLen secret or nothing as salt; @hpke's HKDF refuses other lengths. */
const salt = fc.oneof(fc.constant(new Uint8Array()), fc.uint8Array({ minLength: 32, maxLength: 32 }));

beforeAll(() => Logger.overrideLogger(['error', 'warn']));

describe('nodeEd25519', () => {
  it('produces the RFC 8032 test signature from a 32-byte seed', async () => {
    expect(toHex(await nodeEd25519.sign(RFC8032_SECRET, new Uint8Array()))).toBe(RFC8032_SIGNATURE);
    expect(await nodeEd25519.verify(RFC8032_PUBLIC, new Uint8Array(), fromHex(RFC8032_SIGNATURE))).toBe(true);
  });

  it('interoperates with the default provider both ways, whichever made the key', async () => {
    const reference = (await mlsCiphersuite(MlsCryptoBackend.Default)).signature;
    for (const keys of [await nodeEd25519.keygen(), await reference.keygen()]) {
      const byNode = await nodeEd25519.sign(keys.signKey, MESSAGE);
      const byDefault = await reference.sign(keys.signKey, MESSAGE);
      expect(toHex(byNode)).toBe(toHex(byDefault)); // Ed25519 is deterministic
      expect(await reference.verify(keys.publicKey, MESSAGE, byNode)).toBe(true);
      expect(await nodeEd25519.verify(keys.publicKey, MESSAGE, byDefault)).toBe(true);
    }
  });

  it('rejects a wrong message, a garbage signature and a malformed key without throwing', async () => {
    const keys = await nodeEd25519.keygen();
    const signature = await nodeEd25519.sign(keys.signKey, MESSAGE);
    expect(await nodeEd25519.verify(keys.publicKey, new TextEncoder().encode('other'), signature)).toBe(false);
    expect(await nodeEd25519.verify(keys.publicKey, MESSAGE, signature.subarray(1))).toBe(false);
    expect(await nodeEd25519.verify(keys.publicKey.subarray(1), MESSAGE, signature)).toBe(false);
  });
});

describe('nodeHash / nodeKdf', () => {
  it('computes the RFC 5869 HKDF-SHA256 test vector', async () => {
    const kdf = nodeKdf('HKDF-SHA256');
    const prk = await kdf.extract(RFC5869_SALT, RFC5869_IKM);
    expect(toHex(prk)).toBe(RFC5869_PRK);
    expect(toHex(await kdf.expand(prk, RFC5869_INFO, RFC5869_LENGTH))).toBe(RFC5869_OKM);
  });

  it('matches the default provider on arbitrary inputs (empty salts included)', async () => {
    const reference = await mlsCiphersuite(MlsCryptoBackend.Default);
    const hash = nodeHash('SHA-256');
    const kdf = nodeKdf('HKDF-SHA256');
    await fc.assert(
      // WebCrypto refuses zero-length HMAC keys (MLS never uses one), hence the non-empty `key`.
      fc.asyncProperty(salt, bytes(80), macKey, fc.integer({ min: 0, max: 100 }), async (a, b, key, length) => {
        expect(toHex(await hash.digest(a))).toBe(toHex(await reference.hash.digest(a)));
        const mac = await hash.mac(key, b);
        expect(toHex(mac)).toBe(toHex(await reference.hash.mac(key, b)));
        expect(await hash.verifyMac(key, mac, b)).toBe(true);
        expect(await hash.verifyMac(key, mac.subarray(1), b)).toBe(false);
        const prk = await kdf.extract(a, b);
        expect(toHex(prk)).toBe(toHex(await reference.kdf.extract(a, b)));
        expect(toHex(await kdf.expand(prk, a, length))).toBe(toHex(await reference.kdf.expand(prk, a, length)));
      }),
      { numRuns: 50 },
    );
  });
});

describe('mixed backends', () => {
  it('a member on the default provider and one on node:crypto share a group', async () => {
    const alice = await new FakeProvider(HUB_DOMAIN, {
      cipherSuite: await mlsCiphersuite(MlsCryptoBackend.Default),
    }).client(ALICE);
    const cathy = await new FakeProvider(FOLLOWER_DOMAIN, {
      cipherSuite: await mlsCiphersuite(MlsCryptoBackend.Node),
    }).client(CATHY);
    const room = await RoomGroup.create(alice, {
      roomUri: ROOM_URI,
      hub: await HubExternalSender.generate(HUB_DOMAIN),
      participants: [asParticipant(ALICE, ROLE_ADMIN)],
    });
    const added = await room.addMembers(
      [(await cathy.createKeyPackage()).keyPackage],
      [asParticipant(CATHY, ROLE_MEMBER)],
    );
    await cathy.joinFromWelcome(added.welcome!, added.ratchetTree);

    const atCathy = await cathy.processMessage(await alice.encrypt(room.groupId, HELLO_FROM_ALICE));
    const atAlice = await alice.processMessage(await cathy.encrypt(room.groupId, HELLO_FROM_CATHY));
    expect(atCathy.kind === 'application' && toHex(atCathy.plaintext)).toBe(toHex(HELLO_FROM_ALICE));
    expect(atAlice.kind === 'application' && toHex(atAlice.plaintext)).toBe(toHex(HELLO_FROM_CATHY));
  });
});
