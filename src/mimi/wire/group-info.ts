/** protocol-06 §5.6 Claim group key information: `POST /groupInfo/{roomId}`. */
import {
  cipherSuiteCodec,
  hpkeCiphertextCodec,
  hpkePublicKeyCodec,
  protocolCodec,
  ratchetTreeOptionCodec,
  signaturePublicKeyCodec,
  type CipherSuite,
  type HpkeCiphertext,
  type Protocol,
  type RatchetTreeOption,
} from './common';
import {
  credentialCodec,
  groupInfoCodec,
  type CredentialBytes,
  type GroupInfoBytes,
  type MlsMessageBytes,
} from './mls-values';
import {
  codec,
  enumCodec,
  opaque,
  optionalOf,
  uint64,
  utf8,
  vectorOf,
  type TlsReader,
  type TlsWriter,
} from '../../codec/tls-codec';
import { proposalMessageCodec } from './update';

/**
 * protocol-06 §5.6 GroupInfoRequestTBS. Here `joiningCode` is `optional opaque joiningCode<V>`,
 * while GroupInfoRequest has a plain `opaque joiningCode<V>`; see groupInfoRequestTbs().
 */
export interface GroupInfoRequestTBS {
  protocol: Protocol;
  cipherSuite: CipherSuite;
  requestingSignatureKey: Uint8Array;
  requestingCredential: CredentialBytes;
  groupInfoPublicKey: Uint8Array;
  joiningCode?: Uint8Array;
}

/** protocol-06 §5.6 GroupInfoRequest. */
export interface GroupInfoRequest {
  protocol: Protocol;
  cipherSuite: CipherSuite;
  requestingSignatureKey: Uint8Array;
  requestingCredential: CredentialBytes;
  groupInfoPublicKey: Uint8Array;
  /** Empty when the requester has no joining code. */
  joiningCode: Uint8Array;
  /** SignWithLabel(requestingSignatureKey, "GroupInfoRequestTBS", GroupInfoRequestTBS) */
  signature: Uint8Array;
}

const optionalOpaque = optionalOf(opaque);

interface GroupInfoRequestHead {
  protocol: Protocol;
  cipherSuite: CipherSuite;
  requestingSignatureKey: Uint8Array;
  requestingCredential: CredentialBytes;
  groupInfoPublicKey: Uint8Array;
}

function writeHead(w: TlsWriter, v: GroupInfoRequestHead): void {
  w.field('protocol', protocolCodec, v.protocol);
  w.field('cipher_suite', cipherSuiteCodec, v.cipherSuite);
  w.field('requestingSignatureKey', signaturePublicKeyCodec, v.requestingSignatureKey);
  w.field('requestingCredential', credentialCodec, v.requestingCredential);
  w.field('groupInfoPublicKey', hpkePublicKeyCodec, v.groupInfoPublicKey);
}

function readHead(r: TlsReader): GroupInfoRequestHead {
  const protocol = r.field('protocol', protocolCodec);
  switch (protocol) {
    case 'mls10':
      return {
        protocol,
        cipherSuite: r.field('cipher_suite', cipherSuiteCodec),
        requestingSignatureKey: r.field('requestingSignatureKey', signaturePublicKeyCodec),
        requestingCredential: r.field('requestingCredential', credentialCodec),
        groupInfoPublicKey: r.field('groupInfoPublicKey', hpkePublicKeyCodec),
      };
  }
}

export const groupInfoRequestTbsCodec = codec<GroupInfoRequestTBS>(
  'GroupInfoRequestTBS',
  (w, v) => {
    writeHead(w, v);
    w.field('joiningCode', optionalOpaque, v.joiningCode);
  },
  (r) => {
    const head = readHead(r);
    const joiningCode = r.field('joiningCode', optionalOpaque);
    return joiningCode === undefined ? head : { ...head, joiningCode };
  },
);

export const groupInfoRequestCodec = codec<GroupInfoRequest>(
  'GroupInfoRequest',
  (w, v) => {
    writeHead(w, v);
    w.field('joiningCode', opaque, v.joiningCode);
    w.field('signature', opaque, v.signature);
  },
  (r) => ({
    ...readHead(r),
    joiningCode: r.field('joiningCode', opaque),
    signature: r.field('signature', opaque),
  }),
);

/** The TBS for a request: an empty joiningCode is signed as absent (see README). */
export function groupInfoRequestTbs(request: GroupInfoRequest): GroupInfoRequestTBS {
  const head: GroupInfoRequestTBS = {
    protocol: request.protocol,
    cipherSuite: request.cipherSuite,
    requestingSignatureKey: request.requestingSignatureKey,
    requestingCredential: request.requestingCredential,
    groupInfoPublicKey: request.groupInfoPublicKey,
  };
  return request.joiningCode.length === 0 ? head : { ...head, joiningCode: request.joiningCode };
}

/** protocol-06 §5.6 GroupInfoCode; `reserved(0)` is invalid. */
const GroupInfoCode = { success: 1, notAuthorized: 2, noSuchRoom: 3 } as const;
type GroupInfoCode = keyof typeof GroupInfoCode;
const groupInfoCodeCodec = enumCodec('GroupInfoCode', GroupInfoCode);

/** RFC 9420 §12.1.8.1 `struct { SignaturePublicKey signature_key; Credential credential; } ExternalSender;` */
interface ExternalSender {
  signatureKey: Uint8Array;
  credential: CredentialBytes;
}
const externalSenderCodec = codec<ExternalSender>(
  'ExternalSender',
  (w, v) => {
    w.field('signature_key', signaturePublicKeyCodec, v.signatureKey);
    w.field('credential', credentialCodec, v.credential);
  },
  (r) => ({
    signatureKey: r.field('signature_key', signaturePublicKeyCodec),
    credential: r.field('credential', credentialCodec),
  }),
);

/** protocol-06 §5.6 PendingProposal. */
export interface PendingProposal {
  proposal: MlsMessageBytes;
  hubAcceptedTime: bigint;
}
const pendingProposalCodec = codec<PendingProposal>(
  'PendingProposal',
  (w, v) => {
    w.field('proposal', proposalMessageCodec, v.proposal);
    w.field('hub_accepted_time', uint64, v.hubAcceptedTime);
  },
  (r) => ({
    proposal: r.field('proposal', proposalMessageCodec),
    hubAcceptedTime: r.field('hub_accepted_time', uint64),
  }),
);

/**
 * protocol-06 §5.6 GroupInfoRatchetTreeTBE: the plaintext of `encrypted_groupinfo_and_tree`
 * (EncryptWithLabel(groupInfoPublicKey, "GroupInfo and ratchet_tree encryption", room_id, ·)).
 */
export interface GroupInfoRatchetTreeTBE {
  /** Without an embedded ratchet_tree. */
  groupInfo: GroupInfoBytes;
  ratchetTreeOption: RatchetTreeOption;
  pendingProposals: PendingProposal[];
}
export const groupInfoRatchetTreeTbeCodec = codec<GroupInfoRatchetTreeTBE>(
  'GroupInfoRatchetTreeTBE',
  (w, v) => {
    w.field('groupInfo', groupInfoCodec, v.groupInfo);
    w.field('ratchetTreeOption', ratchetTreeOptionCodec, v.ratchetTreeOption);
    w.field('pending_proposals', vectorOf(pendingProposalCodec), v.pendingProposals);
  },
  (r) => ({
    groupInfo: r.field('groupInfo', groupInfoCodec),
    ratchetTreeOption: r.field('ratchetTreeOption', ratchetTreeOptionCodec),
    pendingProposals: r.field('pending_proposals', vectorOf(pendingProposalCodec)),
  }),
);

/** The mls10 fields of a successful response. */
export interface GroupInfoResponseBody {
  cipherSuite: CipherSuite;
  hubSender: ExternalSender;
  encryptedGroupInfoAndTree: HpkeCiphertext;
}

/**
 * protocol-06 §5.6 GroupInfoResponseTBS. The draft names the first field `Protocol version`
 * but selects on `protocol`; it is the Protocol. Unlike the response, the mls10 fields are
 * present whatever the status.
 */
export interface GroupInfoResponseTBS extends GroupInfoResponseBody {
  protocol: Protocol;
  roomId: string;
  status: GroupInfoCode;
}

/** protocol-06 §5.6 GroupInfoResponse. */
export type GroupInfoResponse = { protocol: Protocol; roomId: string } & (
  | ({
      status: 'success';
      /** SignWithLabel(hub_sender.signature_key, "GroupInfoResponseTBS", GroupInfoResponseTBS) */
      signature: Uint8Array;
    } & GroupInfoResponseBody)
  | { status: 'notAuthorized' }
  | { status: 'noSuchRoom' }
);

function writeBody(w: TlsWriter, v: GroupInfoResponseBody): void {
  w.field('cipher_suite', cipherSuiteCodec, v.cipherSuite);
  w.field('hub_sender', externalSenderCodec, v.hubSender);
  w.field('encrypted_groupinfo_and_tree', hpkeCiphertextCodec, v.encryptedGroupInfoAndTree);
}

function readBody(r: TlsReader): GroupInfoResponseBody {
  return {
    cipherSuite: r.field('cipher_suite', cipherSuiteCodec),
    hubSender: r.field('hub_sender', externalSenderCodec),
    encryptedGroupInfoAndTree: r.field('encrypted_groupinfo_and_tree', hpkeCiphertextCodec),
  };
}

export const groupInfoResponseTbsCodec = codec<GroupInfoResponseTBS>(
  'GroupInfoResponseTBS',
  (w, v) => {
    w.field('version', protocolCodec, v.protocol);
    w.field('room_id', utf8, v.roomId);
    w.field('status', groupInfoCodeCodec, v.status);
    switch (v.protocol) {
      case 'mls10':
        writeBody(w, v);
        break;
    }
  },
  (r) => {
    const protocol = r.field('version', protocolCodec);
    const roomId = r.field('room_id', utf8);
    const status = r.field('status', groupInfoCodeCodec);
    switch (protocol) {
      case 'mls10':
        return { protocol, roomId, status, ...readBody(r) };
    }
  },
);

export const groupInfoResponseCodec = codec<GroupInfoResponse>(
  'GroupInfoResponse',
  (w, v) => {
    w.field('version', protocolCodec, v.protocol);
    w.field('room_id', utf8, v.roomId);
    w.field('status', groupInfoCodeCodec, v.status);
    switch (v.status) {
      case 'success':
        switch (v.protocol) {
          case 'mls10':
            writeBody(w, v);
            w.field('signature', opaque, v.signature);
            break;
        }
        break;
      case 'notAuthorized':
      case 'noSuchRoom':
        break;
    }
  },
  (r): GroupInfoResponse => {
    const protocol = r.field('version', protocolCodec);
    const roomId = r.field('room_id', utf8);
    const status = r.field('status', groupInfoCodeCodec);
    switch (status) {
      case 'success':
        switch (protocol) {
          case 'mls10':
            return { protocol, roomId, status, ...readBody(r), signature: r.field('signature', opaque) };
        }
        break;
      case 'notAuthorized':
      case 'noSuchRoom':
        return { protocol, roomId, status };
    }
  },
);

/** The TBS of a successful response (what `signature` covers). */
export function groupInfoResponseTbs(
  response: Extract<GroupInfoResponse, { status: 'success' }>,
): GroupInfoResponseTBS {
  return {
    protocol: response.protocol,
    roomId: response.roomId,
    status: response.status,
    cipherSuite: response.cipherSuite,
    hubSender: response.hubSender,
    encryptedGroupInfoAndTree: response.encryptedGroupInfoAndTree,
  };
}
