import { Injectable } from '@nestjs/common';
import { ValidationError } from '../common/errors';
import { ProviderDomain, RoomUri, isProviderDomain, parseMimiUri } from '../common/ids';
import type { MimiEndpoint } from '../ports/delivery-target.port';
import {
  AppendedOutboxEntry,
  OutboxRepository,
  ParkedOutboxEntry,
} from '../persistence/repositories/outbox.repository';
import type { Tx } from '../persistence/transaction-runner';
import { isMimiEndpoint } from './mimi-endpoints';
import { OutboxNotifier } from './outbox-notifier';

/** One message for one destination provider. */
export interface OutboundMessage {
  readonly destination: ProviderDomain;
  readonly roomUri: RoomUri;
  readonly endpoint: MimiEndpoint;
  /** The exact bytes to send; every retry sends these bytes again (MIMI receivers dedupe on them). */
  readonly body: Uint8Array;
  /** Unique per message and destination, e.g. `<roomUri>#<hub seq>@<destination>`; at most 255 characters. */
  readonly idempotencyKey: string;
}

const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/**
 * The transactional outbox (RELIABILITY §4): callers store messages in the same transaction as
 * the state change they announce; workers deliver them after commit, at least once, in order
 * per (destination, room).
 */
@Injectable()
export class OutboxService {
  constructor(
    private readonly outbox: OutboxRepository,
    private readonly notifier: OutboxNotifier,
  ) {}

  /**
   * Store one message for delivery in `tx`. Delivery starts once `tx` commits.
   * @returns the stored row, or the earlier row when the idempotency key is known (`duplicate`)
   * @throws ValidationError for a bad destination, room URI, endpoint or key
   */
  async enqueue(tx: Tx, message: OutboundMessage): Promise<AppendedOutboxEntry> {
    const [stored] = await this.enqueueAll(tx, [message]);
    return stored!;
  }

  /**
   * Store several messages (typically one per follower provider) in `tx`; within a
   * (destination, room) stream they go out in the order given.
   * @throws ValidationError as enqueue
   */
  async enqueueAll(tx: Tx, messages: readonly OutboundMessage[]): Promise<AppendedOutboxEntry[]> {
    messages.forEach(validate);
    if (messages.length === 0) return [];
    const stored = await this.outbox.append(tx, messages);
    if (stored.some((s) => !s.duplicate)) this.notifier.wakeAfterCommit(tx);
    return stored;
  }

  /** Parked rows, newest first (admin API). */
  listParked(opts: { destination?: ProviderDomain; limit: number }): Promise<ParkedOutboxEntry[]> {
    return this.outbox.listParked(opts);
  }

  /**
   * Put a parked row back in its stream and wake the workers.
   * @returns false when no parked row has this id
   */
  async requeue(id: string): Promise<boolean> {
    const requeued = await this.outbox.requeue(id);
    if (requeued) this.notifier.notify();
    return requeued;
  }
}

function validate(message: OutboundMessage): void {
  if (!isProviderDomain(message.destination)) {
    throw new ValidationError(`outbox destination is not a provider domain: ${message.destination}`);
  }
  if (parseMimiUri(message.roomUri)?.kind !== 'r') {
    throw new ValidationError(`outbox roomUri is not a MIMI room URI: ${message.roomUri}`);
  }
  if (!isMimiEndpoint(message.endpoint)) {
    throw new ValidationError(`outbox endpoint is not a MIMI endpoint: ${String(message.endpoint)}`);
  }
  if (message.idempotencyKey.length === 0 || message.idempotencyKey.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw new ValidationError(`outbox idempotencyKey must have 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
  }
}
