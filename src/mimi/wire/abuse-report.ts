/** protocol-06 §5.9 Report abuse: `POST /reportAbuse/{roomId}` (no response body). */
import {
  appDataDictionaryCodec,
  frankCodec,
  identifierUriCodec,
  type AppDataDictionary,
  type Frank,
  type IdentifierUri,
} from './common';
import { codec, opaque, uint64, uint8, utf8, vectorOf } from '../../codec/tls-codec';

/** protocol-06 §5.9 AbusiveMessage. */
export interface AbusiveMessage {
  /** the message content (e.g. a MIMI content message) with the allegedly abusive content */
  messageContent: Uint8Array;
  frank: Frank;
  acceptedTimestamp: bigint;
}
const abusiveMessageCodec = codec<AbusiveMessage>(
  'AbusiveMessage',
  (w, v) => {
    w.field('message_content', opaque, v.messageContent);
    w.field('frank', frankCodec, v.frank);
    w.field('accepted_timestamp', uint64, v.acceptedTimestamp);
  },
  (r) => ({
    messageContent: r.field('message_content', opaque),
    frank: r.field('frank', frankCodec),
    acceptedTimestamp: r.field('accepted_timestamp', uint64),
  }),
);

/**
 * protocol-06 §5.9 AbuseType. The draft defines only `reserved(0)` (the taxonomy is a TODO), so
 * rejecting unknown values would reject every report: any uint8 is accepted and kept as a number.
 */
type AbuseType = number;

/** protocol-06 §5.9 AbuseReport. */
export interface AbuseReport {
  /** "optionally contains the identity of the user sending the report": empty when omitted */
  reportingUser: IdentifierUri;
  allegedAbuserUri: IdentifierUri;
  reasonCode: AbuseType;
  /** UTF-8 human-readable text, may be empty */
  note: string;
  messages: AbusiveMessage[];
  abuseExtensions: AppDataDictionary;
}

export const abuseReportCodec = codec<AbuseReport>(
  'AbuseReport',
  (w, v) => {
    w.field('reportingUser', identifierUriCodec, v.reportingUser);
    w.field('allegedAbuserUri', identifierUriCodec, v.allegedAbuserUri);
    w.field('reasonCode', uint8, v.reasonCode);
    w.field('note', utf8, v.note);
    w.field('messages', vectorOf(abusiveMessageCodec), v.messages);
    w.field('abuse_extensions', appDataDictionaryCodec, v.abuseExtensions);
  },
  (r) => ({
    reportingUser: r.field('reportingUser', identifierUriCodec),
    allegedAbuserUri: r.field('allegedAbuserUri', identifierUriCodec),
    reasonCode: r.field('reasonCode', uint8),
    note: r.field('note', utf8),
    messages: r.field('messages', vectorOf(abusiveMessageCodec)),
    abuseExtensions: r.field('abuse_extensions', appDataDictionaryCodec),
  }),
);
