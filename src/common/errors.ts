/**
 * Errors classified by cause, each with a stable code (STYLE §5). One table maps codes to
 * HTTP statuses (`HTTP_STATUS_BY_CODE`), so the compiler demands a status for every code.
 */
export enum ErrorCode {
  BadValue = 'MIMI_BAD_VALUE',
  Malformed = 'MIMI_MALFORMED',
  NotFound = 'MIMI_NOT_FOUND',
  Unauthenticated = 'MIMI_UNAUTHENTICATED',
  Forbidden = 'MIMI_FORBIDDEN',
  Conflict = 'MIMI_CONFLICT',
  WrongEpoch = 'MIMI_WRONG_EPOCH',
  EpochTooOld = 'MIMI_EPOCH_TOO_OLD',
  NotAllowed = 'MIMI_NOT_ALLOWED',
  PayloadTooLarge = 'MIMI_PAYLOAD_TOO_LARGE',
  UnsupportedMediaType = 'MIMI_UNSUPPORTED_MEDIA_TYPE',
  RateLimited = 'MIMI_RATE_LIMITED',
  ConfigInvalid = 'GW_CONFIG_INVALID',
  PlatformUnavailable = 'GW_PLATFORM_UNAVAILABLE',
  PlatformRejected = 'GW_PLATFORM_REJECTED',
  PeerUnavailable = 'GW_PEER_UNAVAILABLE',
  Timeout = 'GW_TIMEOUT',
  /** Another gateway process owns the room (scale-out): retry later, maybe at another process. */
  RoomElsewhere = 'GW_ROOM_ELSEWHERE',
  /** The database was locked by another connection past its wait (busy_timeout, lock_timeout): retry later. */
  DatabaseBusy = 'GW_DATABASE_BUSY',
  /** A pipelined `/notify` came before the request it follows, which did not arrive or failed: retry later. */
  OutOfOrder = 'GW_OUT_OF_ORDER',
  Internal = 'GW_INTERNAL',
}

export const HTTP_STATUS_BY_CODE: Record<ErrorCode, number> = {
  [ErrorCode.BadValue]: 400,
  [ErrorCode.Malformed]: 400,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.Unauthenticated]: 401,
  [ErrorCode.Forbidden]: 403,
  [ErrorCode.Conflict]: 409,
  [ErrorCode.WrongEpoch]: 409,
  [ErrorCode.EpochTooOld]: 409,
  [ErrorCode.NotAllowed]: 403,
  [ErrorCode.PayloadTooLarge]: 413,
  [ErrorCode.UnsupportedMediaType]: 415,
  [ErrorCode.RateLimited]: 429,
  [ErrorCode.ConfigInvalid]: 500,
  [ErrorCode.PlatformUnavailable]: 503,
  [ErrorCode.PlatformRejected]: 422,
  [ErrorCode.PeerUnavailable]: 502,
  [ErrorCode.Timeout]: 504,
  [ErrorCode.RoomElsewhere]: 503,
  [ErrorCode.DatabaseBusy]: 503,
  [ErrorCode.OutOfOrder]: 503,
  [ErrorCode.Internal]: 500,
};

export interface GatewayErrorOptions {
  /** Whether trying the same thing again later may succeed (network errors, 5xx, timeouts). */
  retryable?: boolean;
  cause?: unknown;
  /** A message fit to show a chat user (never contains internals). */
  humanMessage?: string;
  /** For a retryable error: the far side asked not to be retried sooner (429 retry_after_ms, Retry-After); sent to our own callers as `Retry-After` in whole seconds. */
  retryAfterMs?: number;
}

export class GatewayError extends Error {
  readonly retryable: boolean;
  readonly humanMessage?: string;
  readonly retryAfterMs?: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    opts: GatewayErrorOptions = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = new.target.name;
    this.retryable = opts.retryable ?? false;
    this.humanMessage = opts.humanMessage;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/** Input bytes or values that break a rule of a codec or spec. Never retryable. */
export class CodecError extends GatewayError {
  constructor(message: string, opts: GatewayErrorOptions = {}) {
    super(ErrorCode.Malformed, message, opts);
  }
}

/** A value that decodes fine but violates a semantic rule (e.g. MIMI content §9.1). */
export class ValidationError extends GatewayError {
  constructor(message: string, opts: GatewayErrorOptions = {}) {
    super(ErrorCode.BadValue, message, opts);
  }
}

/** The configuration file is unusable. `keyPath` names the offending key, e.g. `database.type`. */
export class ConfigError extends GatewayError {
  constructor(
    readonly problems: readonly { keyPath: string; expected: string }[],
    opts: GatewayErrorOptions = {},
  ) {
    super(ErrorCode.ConfigInvalid, problems.map((p) => `${p.keyPath}: ${p.expected}`).join('; '), opts);
  }
}

/** Thrown by bridges. Retryable by default (the platform may come back). */
export class PlatformError extends GatewayError {
  constructor(code: ErrorCode, message: string, opts: GatewayErrorOptions = {}) {
    super(code, message, { retryable: true, ...opts });
  }
}

/** Message of any thrown value, for logs. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
