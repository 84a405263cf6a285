import { createHash, createHmac } from 'node:crypto';
import { decodeAll } from '../../codec/tls-codec';
import { hex, loadMlsVectors, toHex, VectorTally } from '../../../test/support/mls-vectors';
import { MlsProtocolError } from './errors';
import { authenticatedContentCodec, ContentType } from './structs';
import { confirmedTranscriptHash, interimTranscriptHash, nextTranscriptHashes } from './transcript';

/** `transcript-hashes` (test-vectors README "Transcript Hashes"). */
interface TranscriptVector {
  cipher_suite: number;
  confirmation_key: string;
  authenticated_content: string;
  interim_transcript_hash_before: string;
  confirmed_transcript_hash_after: string;
  interim_transcript_hash_after: string;
}

/** The suites' hash (RFC 9420 §17.1) on node:crypto, until the crypto module's suites are used. */
const HASH_BY_SUITE: Record<number, string> = {
  1: 'sha256',
  2: 'sha256',
  3: 'sha256',
  4: 'sha512',
  5: 'sha512',
  6: 'sha512',
  7: 'sha384',
};

describe('transcript-hashes vectors', () => {
  const vectors = loadMlsVectors<TranscriptVector>('transcript-hashes');
  const tally = new VectorTally('transcript-hashes');
  afterAll(() => tally.report());

  it('confirmation tag verifies and both hashes match', () => {
    let supported = 0;
    for (const v of vectors) {
      const alg = HASH_BY_SUITE[v.cipher_suite];
      if (alg === undefined) {
        tally.skip(`cipher suite ${v.cipher_suite} has no hash here`);
        continue;
      }
      supported++;
      const hash = (b: Uint8Array): Uint8Array => new Uint8Array(createHash(alg).update(b).digest());
      const content = decodeAll(hex(v.authenticated_content), authenticatedContentCodec);
      expect(content.content.contentType).toBe(ContentType.commit);

      const { confirmed, interim } = nextTranscriptHashes(hash, hex(v.interim_transcript_hash_before), content);
      expect(toHex(confirmed)).toBe(v.confirmed_transcript_hash_after);
      expect(toHex(interim)).toBe(v.interim_transcript_hash_after);

      // confirmation_tag = MAC(confirmation_key, confirmed_transcript_hash), MAC = HMAC with the suite's hash.
      const tag = createHmac(alg, hex(v.confirmation_key)).update(hex(v.confirmed_transcript_hash_after)).digest();
      expect(toHex(content.auth.confirmationTag!)).toBe(toHex(tag));

      // The step functions agree with the combined one, also through a CipherSuite-like object.
      expect(toHex(confirmedTranscriptHash({ hash }, hex(v.interim_transcript_hash_before), content))).toBe(
        toHex(confirmed),
      );
      expect(toHex(interimTranscriptHash(hash, confirmed, content.auth.confirmationTag!))).toBe(toHex(interim));
      tally.pass();
    }
    expect(tally.passed).toBe(supported);
    expect(supported).toBeGreaterThan(0);
  });

  it('refuses a non-commit', () => {
    const hash = (b: Uint8Array): Uint8Array => b;
    const app = {
      wireFormat: 1 as const,
      content: {
        groupId: new Uint8Array(),
        epoch: 0n,
        sender: { senderType: 1 as const, leafIndex: 0 },
        authenticatedData: new Uint8Array(),
        contentType: ContentType.application,
        applicationData: new Uint8Array(),
      },
      auth: { signature: new Uint8Array() },
    };
    expect(() => confirmedTranscriptHash(hash, new Uint8Array(), app)).toThrow(MlsProtocolError);
    expect(() => nextTranscriptHashes(hash, new Uint8Array(), app)).toThrow(MlsProtocolError);
  });
});
