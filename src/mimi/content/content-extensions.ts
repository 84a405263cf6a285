/**
 * Typed accessors for MIMI content extension keys.
 * - 1 senderUri, 2 roomUri: draft-ietf-mimi-content-08 §4.3, §8.2.1.
 * - 3 senderTimestamp, 4 externalMessageId, 5 subject, 256 lastSeen: draft-mimi-content-more-extensions-00
 *   (individual draft; the keys are its *suggested* IANA values, TBD1..TBD4). Bridges use externalMessageId to
 *   carry a Matrix event ID or XMPP stanza-id, and senderTimestamp for the legacy origin time.
 *
 * Getters return `undefined` when the key is absent and throw `ValidationError` (naming the draft section)
 * when it is present but does not match that extension's CDDL.
 */
import { ValidationError } from '../../common/errors';
import { CborMap, CborTag, CborValue } from './cbor';
import { ExtensionKey, MESSAGE_ID_LENGTH, MessageId, MimiExtensions } from './mimi-content';

export enum ExtensionKeys {
  SenderUri = 1,
  RoomUri = 2,
  SenderTimestamp = 3,
  ExternalMessageId = 4,
  Subject = 5,
  LastSeen = 256,
}

/** Name of a known extension key, for display. */
export function extensionName(key: ExtensionKey): string | undefined {
  switch (key) {
    case ExtensionKeys.SenderUri:
      return 'senderUri';
    case ExtensionKeys.RoomUri:
      return 'roomUri';
    case ExtensionKeys.SenderTimestamp:
      return 'senderTimestamp';
    case ExtensionKeys.ExternalMessageId:
      return 'externalMessageId';
    case ExtensionKeys.Subject:
      return 'subject';
    case ExtensionKeys.LastSeen:
      return 'lastSeen';
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------
// senderUri / roomUri (§4.3: tstr; the decoder already enforces the type)

export function getSenderUri(ext: MimiExtensions): string | undefined {
  return textOrUndefined(ext.get(ExtensionKeys.SenderUri), '§4.3: senderUri (1)');
}

export function getRoomUri(ext: MimiExtensions): string | undefined {
  return textOrUndefined(ext.get(ExtensionKeys.RoomUri), '§4.3: roomUri (2)');
}

function textOrUndefined(v: CborValue | undefined, what: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new ValidationError(`${what} must be a text string`);
  return v;
}

// ---------------------------------------------------------------------------------------------------------
// senderTimestamp (more-extensions-00 §3): { 1: uint seconds, ? (-3: ms / -6: µs / -9: ns) }

type FractionKey = -3 | -6 | -9;

export interface SenderTimestamp {
  /** Whole seconds since the UNIX epoch. */
  readonly seconds: number;
  /** Optional sub-second part: key -3 = milliseconds (0..999), -6 = microseconds, -9 = nanoseconds. */
  readonly fraction?: { readonly key: FractionKey; readonly value: number };
}

const FRACTION_MAX: Record<FractionKey, number> = { [-3]: 999, [-6]: 999_999, [-9]: 999_999_999 };
const SENDER_TS = 'more-extensions-00 §3: senderTimestamp';

export function senderTimestampToCbor(ts: SenderTimestamp): CborValue {
  const v = new CborMap([[1, ts.seconds], ...(ts.fraction ? [[ts.fraction.key, ts.fraction.value] as const] : [])]);
  senderTimestampFromCbor(v);
  return v;
}

export function senderTimestampFromCbor(v: CborValue): SenderTimestamp {
  if (!(v instanceof CborMap)) throw new ValidationError(`${SENDER_TS} must be a map`);
  const seconds = v.get(1);
  if (typeof seconds !== 'number' || !Number.isSafeInteger(seconds) || seconds < 0) {
    throw new ValidationError(`${SENDER_TS} key 1 must be an unsigned integer of seconds`);
  }
  const others = v.entries.filter(([k]) => k !== 1);
  if (others.length === 0) return { seconds };
  const [key, value] = others[0]!;
  if (others.length > 1 || (key !== -3 && key !== -6 && key !== -9)) {
    throw new ValidationError(`${SENDER_TS} allows only key 1 and one of -3, -6, -9`);
  }
  const max = FRACTION_MAX[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new ValidationError(`${SENDER_TS} fraction ${key} must be 0..${max}`);
  }
  return { seconds, fraction: { key, value } };
}

export function getSenderTimestamp(ext: MimiExtensions): SenderTimestamp | undefined {
  const v = ext.get(ExtensionKeys.SenderTimestamp);
  return v === undefined ? undefined : senderTimestampFromCbor(v);
}

/** A millisecond timestamp (e.g. Matrix `origin_server_ts`) as a senderTimestamp. */
export function senderTimestampFromMillis(ms: number): SenderTimestamp {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new ValidationError(`${SENDER_TS}: ${ms} is not a valid time`);
  const rest = ms % 1000;
  return rest === 0
    ? { seconds: (ms - rest) / 1000 }
    : { seconds: (ms - rest) / 1000, fraction: { key: -3, value: rest } };
}

/** Milliseconds since the epoch (sub-millisecond precision is truncated). */
export function senderTimestampToMillis(ts: SenderTimestamp): number {
  if (!ts.fraction) return ts.seconds * 1000;
  const ms = Math.floor(ts.fraction.value / 10 ** (-ts.fraction.key - 3));
  return ts.seconds * 1000 + ms;
}

// ---------------------------------------------------------------------------------------------------------
// externalMessageId (more-extensions-00 §4): [ bstr, scope ], scope = pen (uint > 0) / domain (tstr) /
// uri (#6.32(tstr), the CDDL prelude's `uri`)

type ExternalMessageIdScope =
  | { readonly kind: 'pen'; readonly pen: number }
  | { readonly kind: 'domain'; readonly domain: string }
  | { readonly kind: 'uri'; readonly uri: string };

export interface ExternalMessageId {
  /** The native message ID (e.g. the UTF-8 of a Matrix event ID or an XMPP stanza-id). */
  readonly id: Uint8Array;
  readonly scope: ExternalMessageIdScope;
}

const EXT_ID = 'more-extensions-00 §4: externalMessageId';
const URI_TAG = 32;

export function externalMessageIdToCbor(x: ExternalMessageId): CborValue {
  let scope: CborValue;
  switch (x.scope.kind) {
    case 'pen':
      scope = x.scope.pen;
      break;
    case 'domain':
      scope = x.scope.domain;
      break;
    case 'uri':
      scope = new CborTag(URI_TAG, x.scope.uri);
      break;
  }
  const v: CborValue = [x.id, scope];
  externalMessageIdFromCbor(v);
  return v;
}

export function externalMessageIdFromCbor(v: CborValue): ExternalMessageId {
  const items: readonly CborValue[] = Array.isArray(v) ? (v as readonly CborValue[]) : [];
  const [id, scope] = items;
  if (items.length !== 2 || !(id instanceof Uint8Array)) {
    throw new ValidationError(`${EXT_ID} must be [bstr, scope]`);
  }
  if (typeof scope === 'number' && Number.isSafeInteger(scope) && scope > 0) {
    return { id, scope: { kind: 'pen', pen: scope } };
  }
  if (typeof scope === 'string') return { id, scope: { kind: 'domain', domain: scope } };
  if (scope instanceof CborTag && scope.tag === URI_TAG && typeof scope.value === 'string') {
    return { id, scope: { kind: 'uri', uri: scope.value } };
  }
  throw new ValidationError(`${EXT_ID} scope must be a PEN (uint > 0), a domain (tstr) or a URI (tag 32)`);
}

export function getExternalMessageId(ext: MimiExtensions): ExternalMessageId | undefined {
  const v = ext.get(ExtensionKeys.ExternalMessageId);
  return v === undefined ? undefined : externalMessageIdFromCbor(v);
}

// ---------------------------------------------------------------------------------------------------------
// subject (more-extensions-00 §5): tstr .size (1..4096)

const MAX_SUBJECT_OCTETS = 4096;

export function getSubject(ext: MimiExtensions): string | undefined {
  const v = ext.get(ExtensionKeys.Subject);
  if (v === undefined) return undefined;
  return checkSubject(v);
}

export function checkSubject(v: CborValue): string {
  const octets = typeof v === 'string' ? Buffer.byteLength(v, 'utf8') : -1;
  if (octets < 1 || octets > MAX_SUBJECT_OCTETS) {
    throw new ValidationError(
      `more-extensions-00 §5: subject must be a text string of 1..${MAX_SUBJECT_OCTETS} octets`,
    );
  }
  return v as string;
}

// ---------------------------------------------------------------------------------------------------------
// lastSeen (more-extensions-00 §6): [* MessageId] / [* ExtMessageId]; a mix is not allowed

export type LastSeen =
  | { readonly kind: 'mimi'; readonly ids: readonly MessageId[] }
  | { readonly kind: 'external'; readonly ids: readonly ExternalMessageId[] };

export function lastSeenFromCbor(v: CborValue): LastSeen {
  if (!Array.isArray(v)) throw new ValidationError('more-extensions-00 §6: lastSeen must be an array');
  const items = v as readonly CborValue[];
  if (items.every((i) => i instanceof Uint8Array && i.length === MESSAGE_ID_LENGTH)) {
    return { kind: 'mimi', ids: items as Uint8Array[] };
  }
  if (items.every((i) => Array.isArray(i))) return { kind: 'external', ids: items.map(externalMessageIdFromCbor) };
  throw new ValidationError('more-extensions-00 §6: lastSeen must hold only MessageIds or only ExtMessageIds');
}

export function lastSeenToCbor(x: LastSeen): CborValue {
  return x.kind === 'mimi' ? [...x.ids] : x.ids.map(externalMessageIdToCbor);
}

export function getLastSeen(ext: MimiExtensions): LastSeen | undefined {
  const v = ext.get(ExtensionKeys.LastSeen);
  return v === undefined ? undefined : lastSeenFromCbor(v);
}
