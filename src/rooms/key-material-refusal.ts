/**
 * Why a remote user could not be added: the answer of their provider's `/keyMaterial`
 * (protocol-06 §5.2) in words, with the error code the provisioning API answers with. The peer's
 * own reason (its KeyMaterialUserCode, its clients' codes, or its HTTP error) is what the inviter
 * is told, not a generic "no key material".
 */
import { ErrorCode } from '../common/errors';

export type KeyMaterialOutcome =
  /** The peer answered with a non-2xx status (its error body, as text, when it sent one). */
  | { readonly kind: 'http'; readonly status: number; readonly body?: string }
  /** A KeyMaterialResponse whose userStatus is not success/partialSuccess. */
  | { readonly kind: 'user'; readonly userStatus: string }
  /** success/partialSuccess, but no usable KeyPackage: the clients' codes (or none at all). */
  | { readonly kind: 'clients'; readonly clientStatuses: readonly string[] };

export interface KeyMaterialRefusal {
  readonly code: ErrorCode;
  readonly message: string;
}

const USER_STATUS: Record<string, { code: ErrorCode; says: string }> = {
  userUnknown: { code: ErrorCode.NotFound, says: 'has no such user' },
  userDeleted: { code: ErrorCode.NotFound, says: 'says the user was deleted' },
  noConsent: { code: ErrorCode.Forbidden, says: 'says the user has not consented to be contacted by us' },
  noConsentForThisRoom: { code: ErrorCode.Forbidden, says: 'says the user has not consented to this room' },
  incompatibleProtocol: { code: ErrorCode.PeerUnavailable, says: 'speaks no protocol this room uses' },
  noCompatibleMaterial: { code: ErrorCode.PeerUnavailable, says: 'has no key material compatible with this room' },
};

const MAX_BODY_CHARS = 200;

export function keyMaterialRefusal(target: string, domain: string, outcome: KeyMaterialOutcome): KeyMaterialRefusal {
  const cannot = `${target} cannot be added: ${domain}`;
  switch (outcome.kind) {
    case 'user': {
      const known = USER_STATUS[outcome.userStatus];
      return known
        ? { code: known.code, message: `${cannot} ${known.says} (${outcome.userStatus})` }
        : { code: ErrorCode.PeerUnavailable, message: `${cannot} answered ${outcome.userStatus}` };
    }
    case 'clients': {
      const codes = [...new Set(outcome.clientStatuses)];
      return {
        code: ErrorCode.PeerUnavailable,
        message:
          codes.length === 0
            ? `${cannot} listed no client of the user`
            : `${cannot} gave no usable KeyPackage (clients: ${codes.join(', ')})`,
      };
    }
    case 'http': {
      const detail = peerError(outcome.body);
      return {
        code:
          outcome.status === 404
            ? ErrorCode.NotFound
            : outcome.status === 403
              ? ErrorCode.Forbidden
              : ErrorCode.PeerUnavailable,
        message: `${cannot} refused the key material request with HTTP ${outcome.status}${detail ? `: ${detail}` : ''}`,
      };
    }
  }
}

/** The peer's error in a few words: `code: message` of a JSON error body, else its text, cut short. */
export function peerError(body: string | undefined): string | undefined {
  if (body === undefined || body.trim() === '') return undefined;
  try {
    const json = JSON.parse(body) as { code?: unknown; message?: unknown; error?: unknown };
    const message =
      typeof json.message === 'string' ? json.message : typeof json.error === 'string' ? json.error : undefined;
    const parts = [typeof json.code === 'string' ? json.code : undefined, message].filter((x) => x !== undefined);
    if (parts.length > 0) return parts.join(': ').slice(0, MAX_BODY_CHARS);
  } catch {
    // not JSON: the text itself
  }
  return body.trim().slice(0, MAX_BODY_CHARS);
}

const MAX_REFUSALS = 1000;

/** The last refusal per room and user, until it is read (bounded: the oldest is forgotten first). */
export class RefusalLog {
  private readonly refusals = new Map<string, KeyMaterialRefusal>();

  remember(roomUri: string, userUri: string, refusal: KeyMaterialRefusal): void {
    const key = `${roomUri} ${userUri}`;
    this.refusals.delete(key);
    this.refusals.set(key, refusal);
    if (this.refusals.size > MAX_REFUSALS) this.refusals.delete(this.refusals.keys().next().value as string);
  }

  /** The refusal of `userUri` in `roomUri`, forgotten once read. */
  take(roomUri: string, userUri: string): KeyMaterialRefusal | undefined {
    const key = `${roomUri} ${userUri}`;
    const refusal = this.refusals.get(key);
    this.refusals.delete(key);
    return refusal;
  }
}
