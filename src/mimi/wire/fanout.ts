/** protocol-06 §5.5 Fanout Messages and Room Events: `POST /notify/{roomId}`. */
import { CodecError } from '../../common/errors';
import { frankCodec, ratchetTreeOptionCodec, type Frank, type RatchetTreeOption } from './common';
import {
  describeMlsMessage,
  inspectForEncode,
  readMlsMessage,
  type MlsMessageBytes,
  type MlsMessageInfo,
} from './mls-values';
import {
  codec,
  decodeConcatenated,
  encodeConcatenated,
  optionalOf,
  uint64,
  vectorOf,
  type Codec,
  type TlsReader,
  type TlsWriter,
} from '../../codec/tls-codec';
import { proposalMessageCodec } from './update';

/**
 * The draft's `select (message.wire_format)` names cases `application`, `welcome`, `proposal`
 * and `commit`, mixing wire format and content type. We read it as: a Welcome wire format is
 * `welcome`; otherwise the content type of the PrivateMessage/PublicMessage decides.
 */
type FanoutMessageKind = 'application' | 'welcome' | 'proposal' | 'commit';

/** protocol-06 §5.5 FanoutMessage (mls10; the protocol is the room's and is not on the wire). */
export type FanoutMessage = {
  /** hub acceptance time, ms since the UNIX epoch */
  timestamp: bigint;
  message: MlsMessageBytes;
} & (
  | { messageKind: 'application'; frank?: Frank }
  | { messageKind: 'welcome'; ratchetTreeOption: RatchetTreeOption }
  | { messageKind: 'proposal'; moreProposals: MlsMessageBytes[] }
  | { messageKind: 'commit'; externalProposals: MlsMessageBytes[] }
);

/** The FanoutMessage case an MLSMessage falls under, or undefined if it may not be fanned out. */
function fanoutKindOf(info: MlsMessageInfo): FanoutMessageKind | undefined {
  switch (info.wireFormat) {
    case 'mls_welcome':
      return 'welcome';
    case 'mls_private_message':
      return info.contentType;
    case 'mls_public_message':
      // RFC 9420 §6.2: application data is never sent as a PublicMessage.
      return info.contentType === 'application' ? undefined : info.contentType;
    case 'mls_group_info':
    case 'mls_key_package':
      return undefined;
  }
}

const optionalFrank = optionalOf(frankCodec);
const proposalList = vectorOf(proposalMessageCodec);

function writeMessage(w: TlsWriter, v: FanoutMessage): void {
  const info = inspectForEncode(w, v.message);
  const kind = fanoutKindOf(info);
  if (kind !== v.messageKind) {
    w.fail(`messageKind '${v.messageKind}' does not match the message, a ${describeMlsMessage(info)}`);
  }
  w.raw(v.message);
}

function readMessage(r: TlsReader): { message: MlsMessageBytes; kind: FanoutMessageKind } {
  const at = r.offset;
  const { bytes, info } = readMlsMessage(r);
  const kind = fanoutKindOf(info);
  if (kind === undefined) return r.fail(`a ${describeMlsMessage(info)} cannot be fanned out`, at);
  return { message: bytes, kind };
}

export const fanoutMessageCodec: Codec<FanoutMessage> = codec<FanoutMessage>(
  'FanoutMessage',
  (w, v) => {
    w.field('timestamp', uint64, v.timestamp);
    w.field('message', writeMessage, v);
    switch (v.messageKind) {
      case 'application':
        w.field('frank', optionalFrank, v.frank);
        break;
      case 'welcome':
        w.field('ratchetTreeOption', ratchetTreeOptionCodec, v.ratchetTreeOption);
        break;
      case 'proposal':
        w.field('moreProposals', proposalList, v.moreProposals);
        break;
      case 'commit':
        w.field('externalProposals', proposalList, v.externalProposals);
        break;
    }
  },
  (r): FanoutMessage => {
    const timestamp = r.field('timestamp', uint64);
    const { message, kind } = r.field('message', readMessage);
    switch (kind) {
      case 'application': {
        const frank = r.field('frank', optionalFrank);
        return frank === undefined
          ? { timestamp, message, messageKind: kind }
          : { timestamp, message, messageKind: kind, frank };
      }
      case 'welcome':
        return {
          timestamp,
          message,
          messageKind: kind,
          ratchetTreeOption: r.field('ratchetTreeOption', ratchetTreeOptionCodec),
        };
      case 'proposal':
        return { timestamp, message, messageKind: kind, moreProposals: r.field('moreProposals', proposalList) };
      case 'commit':
        return { timestamp, message, messageKind: kind, externalProposals: r.field('externalProposals', proposalList) };
    }
  },
);

/**
 * A /notify body: "the hub can include multiple concatenated FanoutMessage objects relevant to
 * the same room" (§5.5). At least one is required. @throws CodecError
 */
export function decodeFanoutBody(bytes: Uint8Array): FanoutMessage[] {
  return decodeConcatenated(bytes, fanoutMessageCodec);
}

/** @throws CodecError */
export function encodeFanoutBody(messages: readonly FanoutMessage[]): Uint8Array {
  if (messages.length === 0) throw new CodecError('FanoutMessage: a /notify body needs at least one FanoutMessage');
  return encodeConcatenated(messages, fanoutMessageCodec);
}
