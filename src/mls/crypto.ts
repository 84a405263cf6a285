/**
 * Cipher suite and crypto backend for the MLS layer.
 *
 * ts-mls takes a `CryptoProvider` (`getCiphersuiteImpl(cs, provider)`) and the resulting
 * `CiphersuiteImpl` is a plain record of `signature`, `hash`, `kdf`, `hpke`, `rng`. Its default
 * provider signs Ed25519 through WebCrypto, importing the key on every call, and runs HKDF and
 * HMAC through async WebCrypto/@hpke calls; node:crypto with a cached `KeyObject` signs about ten
 * times faster (numbers: `bench-mls.ts`, README.md). `nodeCryptoProvider`
 * keeps ts-mls's HPKE and RNG and replaces signature (Ed25519), hash/HMAC and HKDF with node:crypto.
 * The outputs are byte-identical (crypto.spec.ts checks them against the default provider), so
 * clients on either backend interoperate and stored keys move between them.
 */
import {
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  KeyObject,
  sign as nodeSign,
  timingSafeEqual,
  verify as nodeVerify,
} from 'node:crypto';
import {
  type CiphersuiteImpl,
  type CiphersuiteName,
  type CryptoProvider,
  type Hash,
  type HashAlgorithm,
  type Kdf,
  type KdfAlgorithm,
  type Signature,
  defaultCryptoProvider,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
} from 'ts-mls';

/**
 * RFC 9420 §17.1 mandatory-to-implement suite (0x0001), the one MIMI peers can be expected to
 * support (MIMI-NOTES §5.1 B.6).
 */
export const MIMI_CIPHERSUITE: CiphersuiteName = 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519';

/** Which crypto implementation backs ts-mls. */
export enum MlsCryptoBackend {
  /** ts-mls's default provider (WebCrypto where available, else @noble). */
  Default = 'default',
  /** node:crypto for Ed25519, SHA-2/HMAC and HKDF; ts-mls's default for HPKE. */
  Node = 'node',
}

// RFC 8410 DER prefixes: PKCS#8 wrapping of a 32-byte Ed25519 seed, SPKI wrapping of a public key.
const ED25519_PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);
const ED25519_SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);
const ED25519_SEED_LENGTH = 32;

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

// Keyed by the Uint8Array itself: ts-mls keeps the same array in its state from message to message,
// so the DER parsing happens once per key. No secret is ever turned into a map key string.
const privateKeyCache = new WeakMap<Uint8Array, KeyObject>();
const publicKeyCache = new WeakMap<Uint8Array, KeyObject>();

/**
 * ts-mls stores Ed25519 private keys either as the 32-byte seed (@noble) or as PKCS#8 DER
 * (its WebCrypto path exports PKCS#8). Accept both, so keys made by either backend keep working.
 */
function ed25519PrivateKey(signKey: Uint8Array): KeyObject {
  let key = privateKeyCache.get(signKey);
  if (key === undefined) {
    const der = signKey.length === ED25519_SEED_LENGTH ? concat(ED25519_PKCS8_PREFIX, signKey) : signKey;
    key = createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
    if (key.asymmetricKeyType !== 'ed25519') throw new Error('signature private key is not an Ed25519 key');
    privateKeyCache.set(signKey, key);
  }
  return key;
}

function ed25519PublicKey(publicKey: Uint8Array): KeyObject {
  let key = publicKeyCache.get(publicKey);
  if (key === undefined) {
    key = createPublicKey({
      key: Buffer.from(concat(ED25519_SPKI_PREFIX, publicKey)),
      format: 'der',
      type: 'spki',
    });
    publicKeyCache.set(publicKey, key);
  }
  return key;
}

/** RFC 8032 Ed25519 on node:crypto, in ts-mls's `Signature` shape. Keys are generated as 32-byte seeds. */
export const nodeEd25519: Signature = {
  async sign(signKey, message) {
    return new Uint8Array(nodeSign(null, message, ed25519PrivateKey(signKey)));
  },
  async verify(publicKey, message, signature) {
    if (publicKey.length !== 32) return false;
    try {
      return nodeVerify(null, message, ed25519PublicKey(publicKey), signature);
    } catch {
      // An invalid point or signature encoding is a failed verification, not a crash.
      return false;
    }
  },
  async keygen() {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
    const spki = publicKey.export({ format: 'der', type: 'spki' });
    return {
      signKey: new Uint8Array(pkcs8.subarray(pkcs8.length - ED25519_SEED_LENGTH)),
      publicKey: new Uint8Array(spki.subarray(spki.length - 32)),
    };
  },
};

const NODE_HASH: Record<HashAlgorithm, string> = { 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' };
const NODE_KDF: Record<KdfAlgorithm, { hash: string; size: number }> = {
  'HKDF-SHA256': { hash: 'sha256', size: 32 },
  'HKDF-SHA384': { hash: 'sha384', size: 48 },
  'HKDF-SHA512': { hash: 'sha512', size: 64 },
};

function hmac(alg: string, key: Uint8Array, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac(alg, key).update(data).digest());
}

export function nodeHash(alg: HashAlgorithm): Hash {
  const name = NODE_HASH[alg];
  return {
    async digest(data) {
      return new Uint8Array(createHash(name).update(data).digest());
    },
    async mac(key, data) {
      return hmac(name, key, data);
    },
    async verifyMac(key, mac, data) {
      const expected = hmac(name, key, data);
      return expected.length === mac.length && timingSafeEqual(expected, mac);
    },
  };
}

/** RFC 5869 HKDF. An empty salt is HashLen zero bytes, which HMAC's key padding makes equivalent. */
export function nodeKdf(alg: KdfAlgorithm): Kdf {
  const { hash, size } = NODE_KDF[alg];
  return {
    size,
    async extract(salt, ikm) {
      return hmac(hash, salt, ikm);
    },
    async expand(prk, info, len) {
      if (len > 255 * size) throw new Error(`HKDF-Expand length ${len} exceeds 255*HashLen`);
      const out = new Uint8Array(len);
      let previous: Uint8Array = new Uint8Array(0);
      for (let i = 1, at = 0; at < len; i++) {
        previous = new Uint8Array(
          createHmac(hash, prk).update(previous).update(info).update(Uint8Array.of(i)).digest(),
        );
        out.set(previous.subarray(0, Math.min(size, len - at)), at);
        at += size;
      }
      return out;
    },
  };
}

/** ts-mls's default provider with Ed25519, SHA-2/HMAC and HKDF swapped for node:crypto. */
export const nodeCryptoProvider: CryptoProvider = {
  async getCiphersuiteImpl(cs) {
    const base = await defaultCryptoProvider.getCiphersuiteImpl(cs);
    return {
      ...base,
      signature: cs.signature === 'Ed25519' ? nodeEd25519 : base.signature,
      hash: nodeHash(cs.hash),
      kdf: nodeKdf(cs.hpke.kdf),
    };
  },
};

const impls = new Map<string, Promise<CiphersuiteImpl>>();

/**
 * The (cached) ts-mls cipher suite implementation for `name` on `backend`.
 * Defaults: the MIMI suite on node:crypto.
 */
export function mlsCiphersuite(
  backend: MlsCryptoBackend = MlsCryptoBackend.Node,
  name: CiphersuiteName = MIMI_CIPHERSUITE,
): Promise<CiphersuiteImpl> {
  const key = `${backend}/${name}`;
  let impl = impls.get(key);
  if (impl === undefined) {
    const provider = backend === MlsCryptoBackend.Node ? nodeCryptoProvider : defaultCryptoProvider;
    impl = getCiphersuiteImpl(getCiphersuiteFromName(name), provider);
    impls.set(key, impl);
  }
  return impl;
}
