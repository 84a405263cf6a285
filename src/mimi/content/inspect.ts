/**
 * `mimi-gateway content inspect FILE [--sender URI] [--room URI]`: decode an `application/mimi-content` file,
 * apply §6 and the clock-independent §9.1 checks, and print the message as JSON with its message ID.
 * Pure function: the CLI wiring only writes `stdout`/`stderr` and exits with `exitCode`.
 */
import { readFileSync, statSync } from 'node:fs';
import { CborFloat, CborMap, CborSimple, CborTag, CborValue } from './cbor';
import {
  extensionName,
  externalMessageIdFromCbor,
  getRoomUri,
  getSenderUri,
  lastSeenFromCbor,
  senderTimestampFromCbor,
  checkSubject,
  ExtensionKeys,
} from './content-extensions';
import { toHex } from './hex';
import {
  Cardinality,
  decodeMimiContent,
  dispositionName,
  ExtensionKey,
  messageId,
  NestedPart,
  PartSemantics,
} from './mimi-content';
import { clockWarnings, validateMimiContent } from './validate';

export interface ContentInspectOptions {
  readonly file: string;
  /** Sender URI for the message ID; default: extension 1 (senderUri) of the message. */
  readonly sender?: string;
  /** Room URI for the message ID; default: extension 2 (roomUri) of the message. */
  readonly room?: string;
  /** Clock for the expiry warnings (ms since the epoch); default `Date.now()`. */
  readonly now?: number;
}

export interface ContentInspectResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Inputs above this size are refused before reading (no MIMI message comes near it). */
const INSPECT_MAX_FILE_BYTES = 64 * 1024 * 1024;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/**
 * Run the inspect command. Exit codes: 0 ok, 1 bad input (one stderr line naming the rule), 2 unreadable file.
 */
export function runContentInspect(opts: ContentInspectOptions): ContentInspectResult {
  let bytes: Uint8Array;
  try {
    const size = statSync(opts.file).size;
    if (size > INSPECT_MAX_FILE_BYTES) return failure(1, `${opts.file}: larger than ${INSPECT_MAX_FILE_BYTES} bytes`);
    bytes = new Uint8Array(readFileSync(opts.file));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return failure(2, `cannot read ${opts.file}: ${code ?? errorText(e)}`);
  }
  try {
    const content = decodeMimiContent(bytes);
    validateMimiContent(content, { checkClock: false });
    const senderUri = opts.sender ?? getSenderUri(content.extensions);
    const roomUri = opts.room ?? getRoomUri(content.extensions);
    if (senderUri === undefined) {
      return failure(1, 'cannot derive the message ID (§3.3): no senderUri extension (1); pass --sender URI');
    }
    if (roomUri === undefined) {
      return failure(1, 'cannot derive the message ID (§3.3): no roomUri extension (2); pass --room URI');
    }
    const id = messageId(bytes, senderUri, roomUri);
    const out: Json = {
      messageId: toHex(id),
      senderUri,
      roomUri,
      size: bytes.length,
      salt: toHex(content.salt),
      replaces: content.replaces && toHex(content.replaces),
      topicId: toHex(content.topicId),
      expires: content.expires && { relative: content.expires.relative, time: content.expires.time },
      inReplyTo: content.inReplyTo && toHex(content.inReplyTo),
      extensions: [...content.extensions].map(([key, value]) => extensionJson(key, value)),
      nestedPart: partJson(content.nestedPart),
      warnings: clockWarnings(content, opts.now ?? Date.now()),
    };
    return { exitCode: 0, stdout: `${JSON.stringify(out, null, 2)}\n`, stderr: '' };
  } catch (e) {
    return failure(1, `${opts.file}: ${errorText(e)}`);
  }
}

function failure(exitCode: number, line: string): ContentInspectResult {
  return { exitCode, stdout: '', stderr: `${line.replace(/[\r\n]+/g, ' ')}\n` };
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function partJson(root: NestedPart): Json {
  // §4.4 implied part index: depth-first pre-order, which is the order `visit` is entered in.
  let nextIndex = 0;
  const visit = (part: NestedPart): Json => {
    const head = {
      partIndex: nextIndex++,
      disposition: part.disposition,
      dispositionName: dispositionName(part.disposition),
      language: part.language,
    };
    switch (part.cardinality) {
      case Cardinality.NullPart:
        return { ...head, cardinality: 'nullpart' };
      case Cardinality.Single:
        return {
          ...head,
          cardinality: 'single',
          contentType: part.contentType,
          content: toHex(part.content),
          ...textOf(part.contentType, part.content),
        };
      case Cardinality.External:
        return {
          ...head,
          cardinality: 'external',
          contentType: part.contentType,
          url: part.url,
          expires: part.expires,
          size: part.size <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(part.size) : part.size.toString(),
          encAlg: part.encAlg,
          key: toHex(part.key),
          nonce: toHex(part.nonce),
          aad: toHex(part.aad),
          hashAlg: part.hashAlg,
          contentHash: toHex(part.contentHash),
          description: part.description,
          filename: part.filename,
        };
      case Cardinality.Multi:
        return {
          ...head,
          cardinality: 'multi',
          partSemantics: lowerFirst(PartSemantics[part.partSemantics]),
          parts: part.parts.map(visit),
        };
    }
  };
  return visit(root);
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** For text/* parts, the decoded text as a convenience (when it is valid UTF-8). */
function textOf(contentType: string, content: Uint8Array): { contentText?: string } {
  if (!/^text\//i.test(contentType)) return {};
  try {
    return { contentText: UTF8.decode(content) };
  } catch {
    return {};
  }
}

function extensionJson(key: ExtensionKey, value: CborValue): Json {
  const name = extensionName(key);
  const out: { [k: string]: Json } = { key, ...(name ? { name } : {}), value: cborJson(value) };
  const decoded = decodeKnownExtension(key, value);
  if (decoded !== undefined) out.decoded = decoded;
  return out;
}

/** Interpretation of the more-extensions-00 keys; a malformed value is shown as an `error` string. */
function decodeKnownExtension(key: ExtensionKey, value: CborValue): Json | undefined {
  try {
    switch (key) {
      case ExtensionKeys.SenderTimestamp: {
        const ts = senderTimestampFromCbor(value);
        return {
          seconds: ts.seconds,
          ...(ts.fraction ? { fraction: { key: ts.fraction.key, value: ts.fraction.value } } : {}),
        };
      }
      case ExtensionKeys.ExternalMessageId: {
        const x = externalMessageIdFromCbor(value);
        return { id: toHex(x.id), scope: { ...x.scope } };
      }
      case ExtensionKeys.Subject:
        return checkSubject(value);
      case ExtensionKeys.LastSeen: {
        const ls = lastSeenFromCbor(value);
        return ls.kind === 'mimi'
          ? { kind: 'mimi', ids: ls.ids.map(toHex) }
          : { kind: 'external', ids: ls.ids.map((x) => ({ id: toHex(x.id), scope: { ...x.scope } })) };
      }
      default:
        return undefined;
    }
  } catch (e) {
    return { error: errorText(e) };
  }
}

/** Generic CBOR as JSON: byte strings as `{bytes: hex}` so they cannot be mistaken for text. */
export function cborJson(v: CborValue): Json {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (v === undefined) return { simple: 23 };
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return { bigint: v.toString() };
  if (v instanceof Uint8Array) return { bytes: toHex(v) };
  if (Array.isArray(v)) return (v as readonly CborValue[]).map(cborJson);
  if (v instanceof CborMap) return { map: v.entries.map(([k, val]) => [cborJson(k), cborJson(val)]) };
  if (v instanceof CborTag) {
    return { tag: typeof v.tag === 'bigint' ? v.tag.toString() : v.tag, value: cborJson(v.value) };
  }
  if (v instanceof CborFloat) return { float: Number.isFinite(v.value) ? v.value : String(v.value) };
  if (v instanceof CborSimple) return { simple: v.value };
  return null;
}
