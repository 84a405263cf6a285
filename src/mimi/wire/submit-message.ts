/** protocol-06 §5.4 Submit a Message: `POST /submitMessage/{roomId}`, and franking (§5.4.1). */
import {
  cipherSuiteCodec,
  frankCodec,
  identifierUriCodec,
  protocolCodec,
  serverFrankCodec,
  signaturePublicKeyCodec,
  type CipherSuite,
  type Frank,
  type IdentifierUri,
  type Protocol,
} from './common';
import { credentialCodec, mlsMessageWhere, type CredentialBytes, type MlsMessageBytes } from './mls-values';
import { codec, enumCodec, fixedOpaque, optionalOf, uint64 } from '../../codec/tls-codec';

/** "a PrivateMessage containing an application message" (protocol-06 §5.4). */
const applicationMessageCodec = mlsMessageWhere(
  'a PrivateMessage(application)',
  (info) => info.wireFormat === 'mls_private_message' && info.contentType === 'application',
);

/** protocol-06 §5.4 SubmitMessageRequest (the draft types `sendingUri` as "IdentifierURI"). */
export interface SubmitMessageRequest {
  protocol: Protocol;
  appMessage: MlsMessageBytes;
  sendingUri: IdentifierUri;
}

export const submitMessageRequestCodec = codec<SubmitMessageRequest>(
  'SubmitMessageRequest',
  (w, v) => {
    w.field('protocol', protocolCodec, v.protocol);
    switch (v.protocol) {
      case 'mls10':
        w.field('appMessage', applicationMessageCodec, v.appMessage);
        w.field('sendingUri', identifierUriCodec, v.sendingUri);
        break;
    }
  },
  (r) => {
    const protocol = r.field('protocol', protocolCodec);
    switch (protocol) {
      case 'mls10':
        return {
          protocol,
          appMessage: r.field('appMessage', applicationMessageCodec),
          sendingUri: r.field('sendingUri', identifierUriCodec),
        };
    }
  },
);

/**
 * protocol-06 §5.4 SubmitResponseCode. The enum names value 0 `accepted`, the select and the
 * prose call it `success`; we use the enum's name.
 */
const SubmitResponseCode = { accepted: 0, notAllowed: 1, epochTooOld: 2 } as const;
type SubmitResponseCode = keyof typeof SubmitResponseCode;
const submitResponseCodeCodec = enumCodec('SubmitResponseCode', SubmitResponseCode);

/** protocol-06 §5.4 SubmitMessageResponse. */
export type SubmitMessageResponse = { protocol: Protocol } & (
  | {
      statusCode: 'accepted';
      /** hub acceptance time, ms since the UNIX epoch */
      acceptedTimestamp: bigint;
      /** present when the request carried a frank_aad component and the hub franked the message */
      frank?: Frank;
    }
  | { statusCode: 'notAllowed' }
  | { statusCode: 'epochTooOld'; /** the hub's current MLS epoch */ currentEpoch: bigint }
);

const optionalFrank = optionalOf(frankCodec);

export const submitMessageResponseCodec = codec<SubmitMessageResponse>(
  'SubmitMessageResponse',
  (w, v) => {
    w.field('protocol', protocolCodec, v.protocol);
    switch (v.protocol) {
      case 'mls10':
        w.field('statusCode', submitResponseCodeCodec, v.statusCode);
        switch (v.statusCode) {
          case 'accepted':
            w.field('accepted_timestamp', uint64, v.acceptedTimestamp);
            w.field('frank', optionalFrank, v.frank);
            break;
          case 'epochTooOld':
            w.field('currentEpoch', uint64, v.currentEpoch);
            break;
          case 'notAllowed':
            break;
        }
        break;
    }
  },
  (r): SubmitMessageResponse => {
    const protocol = r.field('protocol', protocolCodec);
    switch (protocol) {
      case 'mls10': {
        const statusCode = r.field('statusCode', submitResponseCodeCodec);
        switch (statusCode) {
          case 'accepted': {
            const acceptedTimestamp = r.field('accepted_timestamp', uint64);
            const frank = r.field('frank', optionalFrank);
            return frank === undefined
              ? { protocol, statusCode, acceptedTimestamp }
              : { protocol, statusCode, acceptedTimestamp, frank };
          }
          case 'epochTooOld':
            return { protocol, statusCode, currentEpoch: r.field('currentEpoch', uint64) };
          case 'notAllowed':
            return { protocol, statusCode };
        }
      }
    }
  },
);

// ---- franking (§5.4.1) ----------------------------------------------------------------------

const FRANKING_TAG_LENGTH = 32;

/** protocol-06 §5.4.1 `struct { uint8 franking_tag[32]; } FrankAAD;` (the frank_aad Safe AAD component, 0x0020). */
export interface FrankAAD {
  frankingTag: Uint8Array;
}
const frankingTagCodec = fixedOpaque(FRANKING_TAG_LENGTH);
export const frankAadCodec = codec<FrankAAD>(
  'FrankAAD',
  (w, v) => w.field('franking_tag', frankingTagCodec, v.frankingTag),
  (r) => ({ frankingTag: r.field('franking_tag', frankingTagCodec) }),
);

/**
 * protocol-06 §5.4.1 FrankingAgentData: the franking_agent GroupContext component (registered
 * as `franking_signature_key`, 0x0021) and the FrankingAgentUpdate in an AppDataUpdate.
 */
export interface FrankingAgentData {
  frankingSignatureKey: Uint8Array;
  credential: CredentialBytes;
}
export const frankingAgentDataCodec = codec<FrankingAgentData>(
  'FrankingAgentData',
  (w, v) => {
    w.field('franking_signature_key', signaturePublicKeyCodec, v.frankingSignatureKey);
    w.field('credential', credentialCodec, v.credential);
  },
  (r) => ({
    frankingSignatureKey: r.field('franking_signature_key', signaturePublicKeyCodec),
    credential: r.field('credential', credentialCodec),
  }),
);

/** protocol-06 §5.4.1.2 ServerFrankingContext: hashed into server_frank after franking_tag. */
export interface ServerFrankingContext {
  senderUri: IdentifierUri;
  roomUri: IdentifierUri;
  acceptedTimestamp: bigint;
}
export const serverFrankingContextCodec = codec<ServerFrankingContext>(
  'ServerFrankingContext',
  (w, v) => {
    w.field('sender_uri', identifierUriCodec, v.senderUri);
    w.field('room_uri', identifierUriCodec, v.roomUri);
    w.field('accepted_timestamp', uint64, v.acceptedTimestamp);
  },
  (r) => ({
    senderUri: r.field('sender_uri', identifierUriCodec),
    roomUri: r.field('room_uri', identifierUriCodec),
    acceptedTimestamp: r.field('accepted_timestamp', uint64),
  }),
);

/**
 * protocol-06 §5.4.1.2 FrankingIntegrityTBS, signed with label "FrankingIntegrityTBS".
 * (`opaque server_frank[32]` here, `uint8 server_frank[32]` in Frank: the same 32 bytes.)
 */
export interface FrankingIntegrityTBS {
  serverFrank: Uint8Array;
  frankingSignatureCiphersuite: CipherSuite;
  context: ServerFrankingContext;
}
export const frankingIntegrityTbsCodec = codec<FrankingIntegrityTBS>(
  'FrankingIntegrityTBS',
  (w, v) => {
    w.field('server_frank', serverFrankCodec, v.serverFrank);
    w.field('franking_signature_ciphersuite', cipherSuiteCodec, v.frankingSignatureCiphersuite);
    w.field('context', serverFrankingContextCodec, v.context);
  },
  (r) => ({
    serverFrank: r.field('server_frank', serverFrankCodec),
    frankingSignatureCiphersuite: r.field('franking_signature_ciphersuite', cipherSuiteCodec),
    context: r.field('context', serverFrankingContextCodec),
  }),
);
