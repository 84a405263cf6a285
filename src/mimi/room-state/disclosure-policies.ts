/**
 * room-policy-03 §6.5 `logging_policy` and §6.7 `bot_policy`: the components by which a bridged
 * room says that its messages are decrypted at the gateway for a legacy platform.
 *
 * Draft issue: `LoggingPolicy` selects on `case mandatory`, but `Optionality` names the value
 * `required(1)`; both mean 1 here.
 */
import { CodecError, ValidationError } from '../../common/errors';
import { TlsReader, writeTls } from '../../codec/tls-codec';
import { Optionality, readBool, readUri, writeBool, writeUri } from './primitives';

export type LoggingPolicy =
  | { readonly logging: 'forbidden' }
  | {
      readonly logging: 'optional' | 'required';
      readonly loggingClients: readonly string[];
      readonly machineReadablePolicy: string;
      readonly humanReadablePolicy: string;
    };

/** `Bot` (room-policy-03 §6.7). */
export interface Bot {
  readonly name: string;
  readonly description: string;
  readonly homepage: string;
  readonly localClientBot: boolean;
  readonly botRoleIndex: number;
  readonly canTargetMessageInGroup: boolean;
  readonly perUserContent: boolean;
}

const OPTIONALITY_NAMES = Object.keys(Optionality) as Optionality[];

/** @throws ValidationError when required logging names no logging client (room-policy-03 §6.5). */
export function encodeLoggingPolicy(p: LoggingPolicy): Uint8Array {
  if (p.logging === 'required' && p.loggingClients.length === 0) {
    throw new ValidationError('logging_policy: required logging needs at least one logging client');
  }
  return writeTls((w) => {
    w.uint8(Optionality[p.logging]);
    if (p.logging === 'forbidden') return;
    w.vector(p.loggingClients, writeUri);
    writeUri(w, p.machineReadablePolicy);
    writeUri(w, p.humanReadablePolicy);
  });
}

/** @throws CodecError on malformed bytes, an unknown Optionality or required logging without clients. */
export function decodeLoggingPolicy(bytes: Uint8Array): LoggingPolicy {
  const r = new TlsReader(bytes, 'LoggingPolicy');
  const at = r.offset;
  const logging = OPTIONALITY_NAMES[r.field('logging', (x) => x.uint8())];
  if (logging === undefined) return r.fail('unknown Optionality', at);
  if (logging === 'forbidden') {
    r.done();
    return { logging };
  }
  const loggingClients = r.field('logging_clients', (x) => x.vector(readUri));
  const machineReadablePolicy = r.field('machine_readable_policy', readUri);
  const humanReadablePolicy = r.field('human_readable_policy', readUri);
  r.done();
  if (logging === 'required' && loggingClients.length === 0) {
    throw new CodecError('LoggingPolicy: required logging without a logging client');
  }
  return { logging, loggingClients, machineReadablePolicy, humanReadablePolicy };
}

const utf8 = new TextEncoder();

/** Encode `BotPolicy { Bot allowed_bots<V>; }`. */
export function encodeBotPolicy(bots: readonly Bot[]): Uint8Array {
  return writeTls((w) =>
    w.vector(bots, (v, b) => {
      v.opaque(utf8.encode(b.name));
      v.opaque(utf8.encode(b.description));
      writeUri(v, b.homepage);
      writeBool(v, b.localClientBot);
      v.uint32(b.botRoleIndex);
      writeBool(v, b.canTargetMessageInGroup);
      writeBool(v, b.perUserContent);
    }),
  );
}

/** @throws CodecError on malformed bytes. */
export function decodeBotPolicy(bytes: Uint8Array): Bot[] {
  const r = new TlsReader(bytes, 'BotPolicy');
  const bots = r.field('allowed_bots', (x) =>
    x.vector((b): Bot => ({
      name: b.field('name', (y) => y.utf8()),
      description: b.field('description', (y) => y.utf8()),
      homepage: b.field('homepage', readUri),
      localClientBot: b.field('local_client_bot', readBool),
      botRoleIndex: b.field('bot_role_index', (y) => y.uint32()),
      canTargetMessageInGroup: b.field('can_target_message_in_group', readBool),
      perUserContent: b.field('per_user_content', readBool),
    })),
  );
  r.done();
  return bots;
}
