import { ErrorCode, GatewayError, GatewayErrorOptions } from '../common/errors';

/**
 * Why an MLS operation failed, finer than `ErrorCode`. The HTTP layer maps the code; logs and
 * tests look at the reason.
 */
export enum MlsErrorReason {
  /** This client has no state for the group named in the message. */
  UnknownGroup = 'unknownGroup',
  /** A handshake message (proposal/commit) is not for the current epoch (protocol-06 §5.3 `wrongEpoch`). */
  WrongEpoch = 'wrongEpoch',
  /** An application message is older than the oldest epoch whose keys are kept (protocol-06 §5.4 `epochTooOld`). */
  EpochTooOld = 'epochTooOld',
  /** Nonsense for this room: another group, an epoch ahead of the hub, a public application message. */
  NotAllowed = 'notAllowed',
  /** The message is for an epoch this client has not reached: a commit was missed. */
  FutureEpoch = 'futureEpoch',
  /** This client was removed from the group; it cannot read or send anything newer. */
  RemovedFromGroup = 'removedFromGroup',
  /** Proposals are pending; RFC 9420 forbids sending application data until they are committed. */
  PendingProposals = 'pendingProposals',
  /** A staged commit already exists for the group (merge or discard it first). */
  CommitPending = 'commitPending',
  /** No staged commit exists for the group. */
  NoCommitPending = 'noCommitPending',
  /** No stored KeyPackage of this client matches the Welcome. */
  NoMatchingKeyPackage = 'noMatchingKeyPackage',
  /** The bytes are not the MLS structure expected (wrong wire format, trailing bytes, bad encoding). */
  Malformed = 'malformed',
  /** The message decodes but fails an MLS rule (signature, membership tag, proposal validation...). */
  Invalid = 'invalid',
  /** A user or leaf named by the caller is not in the group. */
  NotMember = 'notMember',
  /** The stored state is missing or cannot be read. */
  Storage = 'storage',
}

const CODE_BY_REASON: Record<MlsErrorReason, ErrorCode> = {
  [MlsErrorReason.UnknownGroup]: ErrorCode.NotFound,
  [MlsErrorReason.WrongEpoch]: ErrorCode.WrongEpoch,
  [MlsErrorReason.EpochTooOld]: ErrorCode.EpochTooOld,
  [MlsErrorReason.NotAllowed]: ErrorCode.NotAllowed,
  [MlsErrorReason.FutureEpoch]: ErrorCode.NotAllowed,
  [MlsErrorReason.RemovedFromGroup]: ErrorCode.Forbidden,
  [MlsErrorReason.PendingProposals]: ErrorCode.Conflict,
  [MlsErrorReason.CommitPending]: ErrorCode.Conflict,
  [MlsErrorReason.NoCommitPending]: ErrorCode.Conflict,
  [MlsErrorReason.NoMatchingKeyPackage]: ErrorCode.NotFound,
  [MlsErrorReason.Malformed]: ErrorCode.Malformed,
  [MlsErrorReason.Invalid]: ErrorCode.BadValue,
  [MlsErrorReason.NotMember]: ErrorCode.NotFound,
  [MlsErrorReason.Storage]: ErrorCode.Internal,
};

export interface MlsGroupErrorOptions extends GatewayErrorOptions {
  /** The client's (or hub's) current epoch, when the failure is about epochs. */
  currentEpoch?: bigint;
  /** The epoch the offending message was for. */
  messageEpoch?: bigint;
}

/** Any failure of the MLS group layer. `reason` says why; `code` is the gateway-wide error code. */
export class MlsGroupError extends GatewayError {
  readonly currentEpoch?: bigint;
  readonly messageEpoch?: bigint;
  constructor(
    readonly reason: MlsErrorReason,
    message: string,
    opts: MlsGroupErrorOptions = {},
  ) {
    super(CODE_BY_REASON[reason], message, opts);
    this.currentEpoch = opts.currentEpoch;
    this.messageEpoch = opts.messageEpoch;
  }
}
