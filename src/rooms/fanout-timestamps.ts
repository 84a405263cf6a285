import { ValidationError, errorMessage } from '../common/errors';
import { validateAcceptedTimestamp } from '../mimi/content';
import type { FanoutMessage } from '../mimi/wire';

/**
 * content-08 §9.1 on the receive path (RELIABILITY T32/T45): a hub's accepted timestamp more than a
 * few minutes in the future, or from before MIMI content existed, makes the application message
 * unacceptable. The whole /notify body is refused before anything of it is processed: the hub
 * gets 400 MIMI_BAD_VALUE naming the rule, and its outbox parks that message (alone, after
 * splitting a combined request) with the reason, so nothing is dropped silently and an operator
 * can re-drive it once the clocks agree. Handshake messages are not content and are not checked.
 * @param now this gateway's clock (ms since the epoch)
 * @throws ValidationError for the first message that fails
 */
export function assertFanoutTimestamps(messages: readonly FanoutMessage[], now: number): void {
  for (const [index, m] of messages.entries()) {
    if (m.messageKind !== 'application') continue;
    try {
      validateAcceptedTimestamp(Number(m.timestamp), { now });
    } catch (e) {
      throw new ValidationError(`FanoutMessage #${index} (application, timestamp ${m.timestamp}): ${errorMessage(e)}`);
    }
  }
}
