/** protocol-06 §5.3 Update Room State: `POST /update/{roomId}`. */
import {
  groupInfoOptionCodec,
  proposalRefCodec,
  ratchetTreeOptionCodec,
  type GroupInfoOption,
  type RatchetTreeOption,
} from './common';
import {
  describeMlsMessage,
  inspectForEncode,
  isHandshake,
  mlsMessageWhere,
  readMlsMessage,
  welcomeCodec,
  type MlsMessageBytes,
  type WelcomeBytes,
} from './mls-values';
import { codec, enumCodec, optionalOf, uint64, utf8, vectorOf, type Codec } from '../../codec/tls-codec';

/** "a list of additional proposals, each represented as either PublicMessage or SemiPrivateMessage" */
export const proposalMessageCodec = mlsMessageWhere('a proposal', (info) => isHandshake(info, 'proposal'));

/**
 * protocol-06 §5.3 HandshakeBundle. The draft selects on
 * `proposalOrCommit.content.content_type`, which is not a field of its own: `contentType` here
 * is read from the MLSMessage (PublicMessage.content or PrivateMessage) and checked on encode.
 */
export type HandshakeBundle =
  | {
      proposalOrCommit: MlsMessageBytes;
      contentType: 'commit';
      /** Without the ratchet_tree extension. */
      welcome?: WelcomeBytes;
      groupInfoOption: GroupInfoOption;
      ratchetTreeOption: RatchetTreeOption;
    }
  | {
      proposalOrCommit: MlsMessageBytes;
      contentType: 'proposal';
      moreProposals: MlsMessageBytes[];
    };

const optionalWelcome = optionalOf(welcomeCodec);
const proposalList = vectorOf(proposalMessageCodec);

export const handshakeBundleCodec: Codec<HandshakeBundle> = codec<HandshakeBundle>(
  'HandshakeBundle',
  (w, v) => {
    w.field(
      'proposalOrCommit',
      (ww, bytes: MlsMessageBytes) => {
        const info = inspectForEncode(ww, bytes);
        if (!isHandshake(info, v.contentType)) {
          ww.fail(`contentType '${v.contentType}' does not match the message, a ${describeMlsMessage(info)}`);
        }
        ww.raw(bytes);
      },
      v.proposalOrCommit,
    );
    switch (v.contentType) {
      case 'commit':
        w.field('welcome', optionalWelcome, v.welcome);
        w.field('groupInfoOption', groupInfoOptionCodec, v.groupInfoOption);
        w.field('ratchetTreeOption', ratchetTreeOptionCodec, v.ratchetTreeOption);
        break;
      case 'proposal':
        w.field('moreProposals', proposalList, v.moreProposals);
        break;
    }
  },
  (r): HandshakeBundle => {
    const { bytes: proposalOrCommit, info } = r.field('proposalOrCommit', (rr) => {
      const at = rr.offset;
      const read = readMlsMessage(rr);
      if (!isHandshake(read.info)) rr.fail(`expected a proposal or commit, got ${describeMlsMessage(read.info)}`, at);
      return read;
    });
    if (info.contentType === 'commit') {
      const welcome = r.field('welcome', optionalWelcome);
      const groupInfoOption = r.field('groupInfoOption', groupInfoOptionCodec);
      const ratchetTreeOption = r.field('ratchetTreeOption', ratchetTreeOptionCodec);
      return welcome === undefined
        ? { proposalOrCommit, contentType: 'commit', groupInfoOption, ratchetTreeOption }
        : { proposalOrCommit, contentType: 'commit', welcome, groupInfoOption, ratchetTreeOption };
    }
    return { proposalOrCommit, contentType: 'proposal', moreProposals: r.field('moreProposals', proposalList) };
  },
);

/**
 * protocol-06 §5.3 UpdateRequest: `select (room.protocol) { case mls10: HandshakeBundle bundle; }`.
 * The protocol is the room's and is not on the wire; mls10 is the only one.
 */
export interface UpdateRequest {
  bundle: HandshakeBundle;
}

export const updateRequestCodec = codec<UpdateRequest>(
  'UpdateRequest',
  (w, v) => w.field('bundle', handshakeBundleCodec, v.bundle),
  (r) => ({ bundle: r.field('bundle', handshakeBundleCodec) }),
);

/** protocol-06 §5.3 UpdateResponseCode (the prose calls it "UpdatedResponseCode"). */
const UpdateResponseCode = { success: 0, wrongEpoch: 1, notAllowed: 2, invalidProposal: 3 } as const;
type UpdateResponseCode = keyof typeof UpdateResponseCode;
const updateResponseCodeCodec = enumCodec('UpdateResponseCode', UpdateResponseCode);

/** protocol-06 §5.3 UpdateRoomResponse. */
export type UpdateRoomResponse = { errorDescription: string } & (
  | { responseCode: 'success'; /** hub acceptance time, ms since the UNIX epoch */ acceptedTimestamp: bigint }
  | { responseCode: 'wrongEpoch'; /** the hub's current MLS epoch */ currentEpoch: bigint }
  | { responseCode: 'notAllowed' }
  | { responseCode: 'invalidProposal'; invalidProposals: Uint8Array[] }
);

const proposalRefList = vectorOf(proposalRefCodec);

export const updateRoomResponseCodec = codec<UpdateRoomResponse>(
  'UpdateRoomResponse',
  (w, v) => {
    w.field('responseCode', updateResponseCodeCodec, v.responseCode);
    w.field('errorDescription', utf8, v.errorDescription);
    switch (v.responseCode) {
      case 'success':
        w.field('accepted_timestamp', uint64, v.acceptedTimestamp);
        break;
      case 'wrongEpoch':
        w.field('currentEpoch', uint64, v.currentEpoch);
        break;
      case 'invalidProposal':
        w.field('invalidProposals', proposalRefList, v.invalidProposals);
        break;
      case 'notAllowed':
        break;
    }
  },
  (r): UpdateRoomResponse => {
    const responseCode = r.field('responseCode', updateResponseCodeCodec);
    const errorDescription = r.field('errorDescription', utf8);
    switch (responseCode) {
      case 'success':
        return { responseCode, errorDescription, acceptedTimestamp: r.field('accepted_timestamp', uint64) };
      case 'wrongEpoch':
        return { responseCode, errorDescription, currentEpoch: r.field('currentEpoch', uint64) };
      case 'invalidProposal':
        return { responseCode, errorDescription, invalidProposals: r.field('invalidProposals', proposalRefList) };
      case 'notAllowed':
        return { responseCode, errorDescription };
    }
  },
);
