import { ErrorCode, GatewayError } from '../common/errors';
import type { FanoutMessage, MlsMessageBytes } from '../mimi/wire';
import { assertFanoutTimestamps } from './fanout-timestamps';

const NOW = Date.UTC(2026, 11, 5, 12, 0, 0);
const MINUTE = 60_000;
const MESSAGE = Uint8Array.of(0) as MlsMessageBytes;

const application = (timestamp: number): FanoutMessage => ({
  messageKind: 'application',
  timestamp: BigInt(timestamp),
  message: MESSAGE,
});
const commit = (timestamp: number): FanoutMessage => ({
  messageKind: 'commit',
  timestamp: BigInt(timestamp),
  message: MESSAGE,
  externalProposals: [],
});

function refusal(messages: FanoutMessage[]): GatewayError {
  try {
    assertFanoutTimestamps(messages, NOW);
  } catch (e) {
    if (e instanceof GatewayError) return e;
    throw e;
  }
  throw new Error('not refused');
}

describe(assertFanoutTimestamps.name, () => {
  it('accepts application messages dated now, in the past, or within the allowed skew', () => {
    expect(() =>
      assertFanoutTimestamps([application(NOW), application(NOW - 60 * MINUTE), application(NOW + 5 * MINUTE)], NOW),
    ).not.toThrow();
  });

  it('refuses an application message dated an hour ahead with MIMI_BAD_VALUE naming the message and the rule', () => {
    const e = refusal([application(NOW), application(NOW + 60 * MINUTE)]);
    expect(e.code).toBe(ErrorCode.BadValue);
    expect(e.retryable).toBe(false);
    expect(e.message).toMatch(/^FanoutMessage #1 \(application, timestamp \d+\): §9\.1: .* in the future$/);
  });

  it('refuses one dated just past the allowed skew', () => {
    expect(refusal([application(NOW + 5 * MINUTE + 1)]).message).toMatch(/in the future/);
  });

  it('refuses an application message from before MIMI content existed', () => {
    expect(refusal([application(Date.UTC(2021, 0, 1))]).message).toMatch(/before the concrete syntax/);
  });

  it('does not judge handshake messages by their timestamp', () => {
    expect(() => assertFanoutTimestamps([commit(NOW + 60 * MINUTE)], NOW)).not.toThrow();
  });
});
