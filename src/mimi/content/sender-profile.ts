/**
 * The `senderProfile` extension: a private-use MIMI content extension (content-08 §4.3: text keys are
 * for private use, and a receiver ignores extension keys it does not know) carrying the sender's display
 * name and avatar as they were when the message was sent. The drafts have no per-user profile in the
 * room (the participant list holds only user + role, protocol-06 §10.3), so a gateway writes it on every
 * message of a legacy user and the receiving gateway gives the sender's ghost/puppet that name. See
 * docs/EXTENSIONS.md.
 *
 *     "org.mimi-gateway.senderProfile" => { ? "name": tstr .size (1..256), ? "avatar": tstr (an https URI) }
 */
import { ValidationError } from '../../common/errors';
import { CborMap, type CborValue } from './cbor';
import type { MimiExtensions } from './mimi-content';

export const SENDER_PROFILE_KEY = 'org.mimi-gateway.senderProfile';

/** A display name of at most this many UTF-8 octets. */
const MAX_NAME_OCTETS = 256;
const MAX_AVATAR_OCTETS = 2048;
const WHAT = `${SENDER_PROFILE_KEY} (docs/EXTENSIONS.md)`;

export interface SenderProfile {
  readonly displayName?: string;
  /** An https URI of an image. */
  readonly avatarUrl?: string;
}

/**
 * The extension entry for a legacy user's profile (for `MessageEnvelope.extraExtensions`): none when
 * nothing of it can be sent (see sendableProfile).
 */
export function senderProfileExtensions(p: SenderProfile | undefined): [string, CborValue][] {
  const v = p === undefined ? undefined : senderProfileToCbor(sendableProfile(p));
  return v === undefined ? [] : [[SENDER_PROFILE_KEY, v]];
}

/** The CBOR value of the extension, or undefined when the profile says nothing. @throws ValidationError */
function senderProfileToCbor(p: SenderProfile): CborValue | undefined {
  const entries: [string, string][] = [];
  if (p.displayName !== undefined) entries.push(['name', p.displayName]);
  if (p.avatarUrl !== undefined) entries.push(['avatar', p.avatarUrl]);
  if (entries.length === 0) return undefined;
  const v = new CborMap(entries);
  senderProfileFromCbor(v);
  return v;
}

/** @throws ValidationError when `v` is not the extension's CDDL (unknown map keys are allowed, for later additions) */
export function senderProfileFromCbor(v: CborValue): SenderProfile {
  if (!(v instanceof CborMap)) throw new ValidationError(`${WHAT} must be a map`);
  const name = v.get('name');
  const avatar = v.get('avatar');
  if (name !== undefined && !(typeof name === 'string' && validName(name))) {
    throw new ValidationError(`${WHAT}: name must be a text string of 1..${MAX_NAME_OCTETS} octets`);
  }
  if (avatar !== undefined && !(typeof avatar === 'string' && httpsUri(avatar))) {
    throw new ValidationError(`${WHAT}: avatar must be an https URI of at most ${MAX_AVATAR_OCTETS} octets`);
  }
  return {
    ...(typeof name === 'string' ? { displayName: name } : {}),
    ...(typeof avatar === 'string' ? { avatarUrl: avatar } : {}),
  };
}

/** The sender's profile in `ext`, undefined when absent. @throws ValidationError when malformed */
export function getSenderProfile(ext: MimiExtensions): SenderProfile | undefined {
  const v = ext.get(SENDER_PROFILE_KEY);
  return v === undefined ? undefined : senderProfileFromCbor(v);
}

/**
 * What of a legacy profile can be sent: the name when it fits (cut to the limit on a character
 * boundary), the avatar only when it is an https URI.
 */
function sendableProfile(p: SenderProfile): SenderProfile {
  const name = p.displayName === undefined ? undefined : fitName(p.displayName);
  return {
    ...(name !== undefined ? { displayName: name } : {}),
    ...(p.avatarUrl !== undefined && httpsUri(p.avatarUrl) ? { avatarUrl: p.avatarUrl } : {}),
  };
}

function fitName(name: string): string | undefined {
  let out = name.trim();
  while (Buffer.byteLength(out, 'utf8') > MAX_NAME_OCTETS) out = [...out].slice(0, -1).join('');
  return out === '' ? undefined : out;
}

function validName(name: string): boolean {
  const octets = Buffer.byteLength(name, 'utf8');
  return octets >= 1 && octets <= MAX_NAME_OCTETS;
}

function httpsUri(s: string): boolean {
  if (Buffer.byteLength(s, 'utf8') > MAX_AVATAR_OCTETS) return false;
  try {
    return new URL(s).protocol === 'https:';
  } catch {
    return false;
  }
}
