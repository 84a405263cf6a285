/** Stanza errors (RFC 6120 §8.3) as PlatformErrors. */
import { ErrorCode, PlatformError } from '../../../src/common/errors';
import type { StanzaErrorInfo } from '../protocol/stanzas';

/** Stanza error conditions (RFC 6120 §8.3.3) worth trying again later. */
const TRANSIENT_CONDITIONS = ['resource-constraint', 'remote-server-timeout', 'internal-server-error'];

/** An error from a stanza error (RFC 6120 §8.3), carrying its condition. */
export class XmppStanzaError extends PlatformError {
  constructor(
    readonly info: StanzaErrorInfo,
    what: string,
  ) {
    const transient = info.type === 'wait' || TRANSIENT_CONDITIONS.includes(info.condition);
    super(
      transient ? ErrorCode.PlatformUnavailable : ErrorCode.PlatformRejected,
      `${what}: ${info.condition}${info.text ? ` (${info.text})` : ''}`,
      { retryable: transient },
    );
    this.name = 'XmppStanzaError';
  }
}
