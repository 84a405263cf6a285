/**
 * psk_secret (RFC 9420 §8.4): the PSKs named by a Commit's PreSharedKey proposals (or a
 * Welcome's GroupSecrets.psks), folded in order into one secret for the key schedule.
 *
 *   psk_extracted_[i] = KDF.Extract(0, psk_[i])
 *   psk_input_[i]     = ExpandWithLabel(psk_extracted_[i], "derived psk", PSKLabel, KDF.Nh)
 *   psk_secret_[i]    = KDF.Extract(psk_input_[i], psk_secret_[i-1]),  psk_secret_[0] = 0
 */
import { encodeValue, writeTls } from '../../codec/tls-codec';
import type { CipherSuite } from './crypto/cipher-suite';
import { expandWithLabel } from './crypto/labeled';
import { preSharedKeyIdCodec, type PreSharedKeyID } from './structs/proposals';

export interface PskInput {
  /** The PreSharedKeyID, as a struct or already TLS-encoded. */
  readonly id: PreSharedKeyID | Uint8Array;
  /** The PSK value itself (external PSK, or the resumption_psk of the named epoch). */
  readonly psk: Uint8Array;
}

/** The all-zero psk_secret (KDF.Nh zero bytes) used when there are no PSKs. */
function zeroSecret(suite: CipherSuite): Uint8Array {
  return new Uint8Array(suite.hashLength);
}

/** psk_secret for the PSKs in the order they appear in the Commit / GroupSecrets. */
export function computePskSecret(suite: CipherSuite, psks: readonly PskInput[]): Uint8Array {
  const zero = zeroSecret(suite);
  let secret = zero;
  const count = psks.length;
  psks.forEach(({ id, psk }, index) => {
    const idBytes = id instanceof Uint8Array ? id : encodeValue(id, preSharedKeyIdCodec);
    // PSKLabel { PreSharedKeyID id; uint16 index; uint16 count; }
    const pskLabel = writeTls((w) => {
      w.raw(idBytes);
      w.uint16(index);
      w.uint16(count);
    });
    const extracted = suite.kdfExtract(zero, psk);
    const input = expandWithLabel(suite, extracted, 'derived psk', pskLabel, suite.hashLength);
    secret = suite.kdfExtract(input, secret);
  });
  return secret;
}
