/**
 * Receiver sanity checks of draft-ietf-mimi-content-08 §9.1 ("should be logged and discarded"), on top of
 * the §6 encoding rules the decoder already enforces.
 *
 * Rejected (ValidationError naming the rule):
 * - a referenced message ID (replaces / inReplyTo) whose first octet is an unknown hash algorithm;
 * - a duplicate message ID (when the caller supplies `isKnownMessageId`);
 * - topicId longer than 4096 octets;
 * - expires more than a year in the past (absolute) or more than a year in the future (absolute or relative);
 * - more than 1024 body parts, parts nested deeper than 4 levels, an unknown partSemantics, a body larger than
 *   the local limit;
 * - an accepted timestamp more than a few minutes in the future, before the spec's concrete syntax existed, or
 *   before the room was created;
 * - (gateway policy, our reading of "the apparent sender is not a member of the target MLS group") extension
 *   senderUri/roomUri that contradict the MLS-authenticated sender and the room the message arrived in.
 * Tolerated, as §9.1 says: inReplyTo/replaces pointing to unknown messages, unknown dispositions (render),
 * unknown content types and language tags.
 */
import { ValidationError } from '../../common/errors';
import { getRoomUri, getSenderUri } from './content-extensions';
import { toHex } from './hex';
import {
  assertWellFormedMimiContent,
  Cardinality,
  decodeMimiContent,
  listParts,
  MESSAGE_ID_HASH_SHA256,
  MessageId,
  messageId,
  MimiContent,
} from './mimi-content';

/** §9.1: "the topicId is very long (greater than 4096 octets)". */
export const MAX_TOPIC_ID_OCTETS = 4096;
/** §9.1: "has too many body parts (more than 1024)"; every NestedPart counts, the root and MultiParts too. */
export const MAX_BODY_PARTS = 1024;
/** §9.1 "too large (according to local policy)": our default limit on the inline content octets of a body. */
export const DEFAULT_MAX_BODY_OCTETS = 1024 * 1024;
/** "A year" for the §9.1 expiry checks; 366 days so that a leap year never makes a legal value fail. */
export const ONE_YEAR_MS = 366 * 24 * 60 * 60 * 1000;
/** §9.1 "more than a few minutes in the future": allowed clock skew for the hub accepted timestamp. */
const DEFAULT_MAX_FUTURE_SKEW_MS = 5 * 60 * 1000;
/**
 * §9.1 "before the first concrete syntax of this document is published". The draft gives no date; the draft's
 * own examples carry accepted timestamps of February 2022, so the floor is 2022-01-01T00:00:00Z.
 */
export const SPEC_EPOCH_MS = Date.UTC(2022, 0, 1);
/** §3.3 hash algorithm octets we know (IANA Named Information): sha-256 only. */
const KNOWN_MESSAGE_ID_HASH_ALGS: ReadonlySet<number> = new Set([MESSAGE_ID_HASH_SHA256]);

export interface ValidateOptions {
  /** Current time in ms since the epoch; default `Date.now()`. */
  readonly now?: number;
  /** Apply the clock-based expiry checks (default true). `inspect` turns them off to show old vectors. */
  readonly checkClock?: boolean;
  /** Local limit on the summed inline content octets of the body; default `DEFAULT_MAX_BODY_OCTETS`. */
  readonly maxBodyOctets?: number;
}

/**
 * Apply the message-local §9.1 checks (and the CDDL/§6 checks, for models that did not come from the decoder).
 * @throws ValidationError naming the broken rule.
 */
export function validateMimiContent(msg: MimiContent, opts: ValidateOptions = {}): void {
  assertWellFormedMimiContent(msg);
  checkReferencedId(msg.replaces, 'replaces');
  checkReferencedId(msg.inReplyTo, 'inReplyTo');
  if (msg.topicId.length > MAX_TOPIC_ID_OCTETS) {
    throw new ValidationError(`§9.1: topicId is ${msg.topicId.length} octets, more than ${MAX_TOPIC_ID_OCTETS}`);
  }
  if (msg.expires && (opts.checkClock ?? true)) checkExpires(msg.expires, opts.now ?? Date.now());
  checkBody(msg, opts.maxBodyOctets ?? DEFAULT_MAX_BODY_OCTETS);
}

/** The clock-based §9.1 problems of a message, as messages (used by `inspect` to warn rather than fail). */
export function clockWarnings(msg: MimiContent, now: number): string[] {
  if (!msg.expires) return [];
  try {
    checkExpires(msg.expires, now);
    return [];
  } catch (e) {
    return [e instanceof Error ? e.message : String(e)];
  }
}

function checkReferencedId(id: MessageId | null, field: string): void {
  if (id && !KNOWN_MESSAGE_ID_HASH_ALGS.has(id[0]!)) {
    const alg = id[0]!.toString(16).padStart(2, '0');
    throw new ValidationError(`§9.1: ${field} message ID uses unknown hash algorithm 0x${alg}`);
  }
}

function checkExpires(expires: NonNullable<MimiContent['expires']>, now: number): void {
  const timeMs = expires.time * 1000;
  if (expires.relative) {
    if (timeMs > ONE_YEAR_MS) throw new ValidationError('§9.1: relative expires is more than a year in the future');
    return;
  }
  if (timeMs < now - ONE_YEAR_MS) throw new ValidationError('§9.1: absolute expires is more than a year in the past');
  if (timeMs > now + ONE_YEAR_MS) throw new ValidationError('§9.1: absolute expires is more than a year in the future');
}

function checkBody(msg: MimiContent, maxBodyOctets: number): void {
  const parts = listParts(msg.nestedPart);
  if (parts.length > MAX_BODY_PARTS) {
    throw new ValidationError(`§9.1: body has ${parts.length} parts, more than ${MAX_BODY_PARTS}`);
  }
  // Depth (§6.3, repeated in §9.1) and unknown partSemantics were already rejected by
  // assertWellFormedMimiContent, which cannot even represent them in the model.
  let octets = 0;
  for (const { part } of parts) {
    if (part.cardinality === Cardinality.Single) octets += part.content.length;
  }
  if (octets > maxBodyOctets) {
    throw new ValidationError(`§9.1: body is too large (${octets} octets, local limit ${maxBodyOctets})`);
  }
}

export interface AcceptedTimestampOptions {
  readonly now?: number;
  /** When the room was created (ms); timestamps before it are rejected. */
  readonly roomCreatedAt?: number;
  readonly maxFutureSkewMs?: number;
}

/**
 * §9.1 checks on the hub accepted timestamp (§3.4, ms since the epoch).
 * @throws ValidationError naming the broken rule.
 */
export function validateAcceptedTimestamp(timestampMs: number, opts: AcceptedTimestampOptions = {}): void {
  const now = opts.now ?? Date.now();
  const skew = opts.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS;
  if (!Number.isSafeInteger(timestampMs) || timestampMs < 0) {
    throw new ValidationError(`§3.4: accepted timestamp ${timestampMs} is not a whole number of milliseconds`);
  }
  if (timestampMs > now + skew) {
    throw new ValidationError(`§9.1: accepted timestamp is more than ${skew / 60000} minutes in the future`);
  }
  if (timestampMs < SPEC_EPOCH_MS) {
    throw new ValidationError('§9.1: accepted timestamp is before the concrete syntax of MIMI content existed');
  }
  if (opts.roomCreatedAt !== undefined && timestampMs < opts.roomCreatedAt) {
    throw new ValidationError('§9.1: accepted timestamp is before the room was created');
  }
}

export interface ReceiveOptions extends ValidateOptions {
  /** The sender's user URI as authenticated by MLS (the credential of the sending leaf). */
  readonly senderUri: string;
  /** The MIMI room the message arrived in. */
  readonly roomUri: string;
  /** Duplicate detection: return true for an ID already seen in this room. */
  readonly isKnownMessageId?: (id: MessageId) => boolean;
  /** The hub accepted timestamp, when known. */
  readonly acceptedTimestamp?: number;
  readonly roomCreatedAt?: number;
  /** See `DecodeMimiContentOptions.allowNonDeterministic`. */
  readonly allowNonDeterministic?: boolean;
}

export interface ReceivedMimiContent {
  readonly content: MimiContent;
  /** Derived over the bytes as received (§3.3). */
  readonly messageId: MessageId;
  readonly bytes: Uint8Array;
}

/**
 * Everything a receiver does before acting on a message: decode (§6 + CDDL), §9.1 checks, message ID,
 * duplicate check, sender/room binding, accepted-timestamp checks.
 * @throws CodecError for undecodable bytes, ValidationError for a §9.1 rejection.
 */
export function receiveMimiContent(bytes: Uint8Array, opts: ReceiveOptions): ReceivedMimiContent {
  const content = decodeMimiContent(bytes, { allowNonDeterministic: opts.allowNonDeterministic });
  validateMimiContent(content, opts);
  const apparentSender = getSenderUri(content.extensions);
  if (apparentSender !== undefined && apparentSender !== opts.senderUri) {
    throw new ValidationError(
      `§9.1: apparent sender ${apparentSender} (extension senderUri) is not the MLS sender ${opts.senderUri}`,
    );
  }
  const apparentRoom = getRoomUri(content.extensions);
  if (apparentRoom !== undefined && apparentRoom !== opts.roomUri) {
    throw new ValidationError(`§4.3: extension roomUri ${apparentRoom} is not the room ${opts.roomUri}`);
  }
  const id = messageId(bytes, opts.senderUri, opts.roomUri);
  if (opts.isKnownMessageId?.(id)) throw new ValidationError(`§9.1: duplicate message ID ${toHex(id)}`);
  if (opts.acceptedTimestamp !== undefined) {
    validateAcceptedTimestamp(opts.acceptedTimestamp, { now: opts.now, roomCreatedAt: opts.roomCreatedAt });
  }
  return { content, messageId: id, bytes };
}
