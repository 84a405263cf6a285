/**
 * Errors of the MLS core (`src/mls/core`). The core knows nothing of HTTP or MIMI codes: it
 * says which RFC 9420 rule failed. The gateway layer above maps these to `MlsGroupError`.
 */
export type MlsProtocolFailure =
  /** A signature, MAC, membership tag or confirmation tag did not verify. */
  | 'badSignature'
  | 'badTag'
  /** AEAD or HPKE decryption failed. */
  | 'decryptFailed'
  /** A structure decodes but breaks an RFC 9420 validity rule (§12.2, §12.4.2, §7.9 ...). */
  | 'invalid'
  /** Something the caller asked for does not exist (leaf, proposal reference, key package). */
  | 'notFound'
  /** A generation or epoch outside the window of kept secrets. */
  | 'outOfWindow'
  /** A cipher suite, proposal type or extension this implementation does not support. */
  | 'unsupported';

export class MlsProtocolError extends Error {
  constructor(
    readonly failure: MlsProtocolFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MlsProtocolError';
  }
}

export function mlsFail(failure: MlsProtocolFailure, message: string): never {
  throw new MlsProtocolError(failure, message);
}
