/**
 * MIMI message status reports (draft-mahy-mimi-message-status-01, media type
 * `application/mimi-message-status`): a list of (message ID, status) pairs a room member sends
 * about messages of the same room, e.g. "read". The gateway's read receipts (Matrix `m.read`,
 * XEP-0333 `displayed`) travel as these (src/rooms/content-mapping.ts, issue 13 item 4).
 *
 *   MessageStatusReport = [ * PerMessageStatus ]
 *   PerMessageStatus = [ messageId: bstr .size 32, status: 0..255 ]
 *   status: unread 0, delivered 1, read 2, expired 3, deleted 4, hidden 5, error 6, unknown 7..255
 */
import { CodecError } from '../../common/errors';
import { decodeCborDeterministic, encodeCbor } from './cbor';
import { Cardinality, type MimiContent } from './mimi-content';

/** The draft's media type. */
export const MEDIA_TYPE_MESSAGE_STATUS = 'application/mimi-message-status';

/** The status value of "read". */
export const MESSAGE_STATUS_READ = 2;

/** The draft's status values, by number. */
const STATUS_NAMES = ['unread', 'delivered', 'read', 'expired', 'deleted', 'hidden', 'error'] as const;

/** The draft's name of a status value (`read` for 2), `unknown` for 7..255. */
export function messageStatusName(status: number): (typeof STATUS_NAMES)[number] | 'unknown' {
  return STATUS_NAMES[status] ?? 'unknown';
}

export interface PerMessageStatus {
  /** content-08 §3.3 message ID (32 bytes). */
  readonly messageId: Uint8Array;
  /** 0..6 (`messageStatusName`), or an unknown value 7..255 (kept as it is). */
  readonly status: number;
}

/** Most entries read from one report (a client marks a screenful at a time). */
const MAX_ENTRIES = 1024;
const MESSAGE_ID_BYTES = 32;

function checkEntry(e: PerMessageStatus, at: number): void {
  if (e.messageId.length !== MESSAGE_ID_BYTES) {
    throw new CodecError(
      `message status ${at}: messageId must be ${MESSAGE_ID_BYTES} bytes, not ${e.messageId.length}`,
    );
  }
  if (!Number.isInteger(e.status) || e.status < 0 || e.status > 255) {
    throw new CodecError(`message status ${at}: status must be 0..255`);
  }
}

/** The deterministic CBOR of a report. @throws CodecError for a bad entry or too many */
export function encodeMessageStatusReport(entries: readonly PerMessageStatus[]): Uint8Array {
  if (entries.length > MAX_ENTRIES) throw new CodecError(`message status report of more than ${MAX_ENTRIES} entries`);
  entries.forEach(checkEntry);
  return encodeCbor(entries.map((e) => [e.messageId, e.status]));
}

/** A report's entries. @throws CodecError when it is not deterministic CBOR of the CDDL above */
export function decodeMessageStatusReport(bytes: Uint8Array): PerMessageStatus[] {
  const value = decodeCborDeterministic(bytes, { maxDepth: 3 });
  if (!Array.isArray(value)) throw new CodecError('message status report: not an array');
  const list = value as readonly unknown[];
  if (list.length > MAX_ENTRIES) throw new CodecError(`message status report of more than ${MAX_ENTRIES} entries`);
  return list.map((item, at) => {
    if (!Array.isArray(item) || item.length !== 2) throw new CodecError(`message status ${at}: not a pair`);
    const [messageId, status] = item as readonly unknown[];
    if (!(messageId instanceof Uint8Array)) throw new CodecError(`message status ${at}: messageId is not bytes`);
    if (typeof status !== 'number') throw new CodecError(`message status ${at}: status is not an integer`);
    const entry = { messageId, status };
    checkEntry(entry, at);
    return entry;
  });
}

/**
 * The entries of a message carrying a status report (a SinglePart of the draft's media type), or
 * `undefined` when the message is something else. @throws CodecError when the report is malformed
 */
export function messageStatusOf(content: MimiContent): PerMessageStatus[] | undefined {
  const part = content.nestedPart;
  if (part.cardinality !== Cardinality.Single || !isMessageStatus(content)) return undefined;
  return decodeMessageStatusReport(part.content);
}

/** True when the message's body is a status report (a SinglePart of the draft's media type). */
export function isMessageStatus(content: MimiContent): boolean {
  const part = content.nestedPart;
  return (
    part.cardinality === Cardinality.Single &&
    part.contentType.split(';')[0]?.trim().toLowerCase() === MEDIA_TYPE_MESSAGE_STATUS
  );
}
