/**
 * RFC 9420 §8.2 transcript hashes.
 *
 *   confirmed_transcript_hash_[n] = Hash(interim_transcript_hash_[n-1] || ConfirmedTranscriptHashInput_[n])
 *   interim_transcript_hash_[n]   = Hash(confirmed_transcript_hash_[n] || InterimTranscriptHashInput_[n])
 *
 * Both start as the empty string (epoch 0). The hash is the group's cipher suite hash: pass the
 * CipherSuite or just its `hash` function.
 */
import { encodeValue } from '../../codec/tls-codec';
import type { CipherSuite } from './crypto/cipher-suite';
import { mlsFail } from './errors';
import {
  ContentType,
  confirmedTranscriptHashInputCodec,
  interimTranscriptHashInputCodec,
  type AuthenticatedContent,
} from './structs';

export type HashFunction = (data: Uint8Array) => Uint8Array;

function hashOf(h: HashFunction | Pick<CipherSuite, 'hash'>): HashFunction {
  return typeof h === 'function' ? h : (b) => h.hash(b);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** confirmed_transcript_hash of the epoch `commit` starts, from the previous interim hash. */
export function confirmedTranscriptHash(
  hash: HashFunction | Pick<CipherSuite, 'hash'>,
  interimBefore: Uint8Array,
  commit: AuthenticatedContent,
): Uint8Array {
  if (commit.content.contentType !== ContentType.commit) {
    mlsFail('invalid', `transcript hash: content_type ${commit.content.contentType} is not commit`);
  }
  const input = encodeValue(
    { wireFormat: commit.wireFormat, content: commit.content, signature: commit.auth.signature },
    confirmedTranscriptHashInputCodec,
  );
  return hashOf(hash)(concat(interimBefore, input));
}

/** interim_transcript_hash from the confirmed hash and the Commit's (or GroupInfo's) confirmation tag. */
export function interimTranscriptHash(
  hash: HashFunction | Pick<CipherSuite, 'hash'>,
  confirmed: Uint8Array,
  confirmationTag: Uint8Array,
): Uint8Array {
  const input = encodeValue({ confirmationTag }, interimTranscriptHashInputCodec);
  return hashOf(hash)(concat(confirmed, input));
}

export interface TranscriptHashes {
  confirmed: Uint8Array;
  interim: Uint8Array;
}

/** Both hashes after `commit` (which must carry its confirmation tag). */
export function nextTranscriptHashes(
  hash: HashFunction | Pick<CipherSuite, 'hash'>,
  interimBefore: Uint8Array,
  commit: AuthenticatedContent,
): TranscriptHashes {
  const tag = commit.auth.confirmationTag;
  if (tag === undefined) mlsFail('invalid', 'transcript hash: commit without confirmation_tag');
  const confirmed = confirmedTranscriptHash(hash, interimBefore, commit);
  return { confirmed, interim: interimTranscriptHash(hash, confirmed, tag) };
}
