/** RFC 9420 §8.1 GroupContext. */
import { codec, opaque, uint64 } from '../../../codec/tls-codec';
import {
  cipherSuiteCodec,
  extensionsCodec,
  protocolVersionCodec,
  type CipherSuite,
  type Extension,
  type ProtocolVersion,
} from './basics';

export interface GroupContext {
  version: ProtocolVersion;
  cipherSuite: CipherSuite;
  groupId: Uint8Array;
  epoch: bigint;
  treeHash: Uint8Array;
  confirmedTranscriptHash: Uint8Array;
  extensions: Extension[];
}

export const groupContextCodec = codec<GroupContext>(
  'GroupContext',
  (w, v) => {
    w.field('version', protocolVersionCodec, v.version);
    w.field('cipher_suite', cipherSuiteCodec, v.cipherSuite);
    w.field('group_id', opaque, v.groupId);
    w.field('epoch', uint64, v.epoch);
    w.field('tree_hash', opaque, v.treeHash);
    w.field('confirmed_transcript_hash', opaque, v.confirmedTranscriptHash);
    w.field('extensions', extensionsCodec, v.extensions);
  },
  (r) => ({
    version: r.field('version', protocolVersionCodec),
    cipherSuite: r.field('cipher_suite', cipherSuiteCodec),
    groupId: r.field('group_id', opaque),
    epoch: r.field('epoch', uint64),
    treeHash: r.field('tree_hash', opaque),
    confirmedTranscriptHash: r.field('confirmed_transcript_hash', opaque),
    extensions: r.field('extensions', extensionsCodec),
  }),
);
