import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { MlsProtocolError } from '../errors';
import { ED25519_KEYS, ED448_KEYS, X25519_KEYS, X448_KEYS } from './keys';

/** A key pair from node's generator, as raw bytes (the tail of its DER documents) and as KeyObjects. */
function generated(type: 'ed25519' | 'ed448' | 'x25519' | 'x448', len: number) {
  const { privateKey, publicKey } = generateKeyPairSync(type as 'ed25519', {
    privateKeyEncoding: { format: 'der', type: 'pkcs8' },
    publicKeyEncoding: { format: 'der', type: 'spki' },
  });
  return {
    raw: {
      privateKey: privateKey.subarray(privateKey.length - len),
      publicKey: publicKey.subarray(publicKey.length - len),
    },
    der: {
      privateKey: createPrivateKey({ key: privateKey, format: 'der', type: 'pkcs8' }),
      publicKey: createPublicKey({ key: publicKey, format: 'der', type: 'spki' }),
    },
  };
}

const rawPublic = (k: ReturnType<typeof createPublicKey>): Buffer =>
  Buffer.from(k.export({ format: 'jwk' }).x!, 'base64url');

describe('raw OKP keys imported through JWK', () => {
  it.each([
    ['ed25519', ED25519_KEYS, 32],
    ['ed448', ED448_KEYS, 57],
    ['x25519', X25519_KEYS, 32],
    ['x448', X448_KEYS, 56],
  ] as const)(
    '%s: the private key yields the public key the DER import yields (x is a placeholder)',
    (type, keys, len) => {
      const g = generated(type, len);
      const imported = keys.private.once(new Uint8Array(g.raw.privateKey));
      expect(rawPublic(createPublicKey(imported))).toEqual(Buffer.from(g.raw.publicKey));
      expect(rawPublic(keys.public.once(new Uint8Array(g.raw.publicKey)))).toEqual(rawPublic(g.der.publicKey));
    },
  );

  it('Ed25519: a signature by the imported private key verifies with the DER public key, and back', () => {
    const g = generated('ed25519', 32);
    const msg = Buffer.from('FramedContentTBS');
    const sig = sign(null, msg, ED25519_KEYS.private.once(new Uint8Array(g.raw.privateKey)));
    expect(verify(null, msg, g.der.publicKey, sig)).toBe(true);
    const sig2 = sign(null, msg, g.der.privateKey);
    expect(verify(null, msg, ED25519_KEYS.public.once(new Uint8Array(g.raw.publicKey)), sig2)).toBe(true);
  });

  it('refuses keys of the wrong length with MlsProtocolError(invalid)', () => {
    expect(() => ED25519_KEYS.public.once(new Uint8Array(31))).toThrow(MlsProtocolError);
    expect(() => X25519_KEYS.private.once(new Uint8Array(33))).toThrow(/expected 32 bytes/);
  });
});
