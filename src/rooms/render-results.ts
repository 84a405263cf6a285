import type { RoomEventRecord } from '../persistence/repositories/room-event.repository';

/** What rendering one event came to, to be recorded (render status, and the platform's event ID). */
export interface RenderResult {
  readonly event: RoomEventRecord;
  readonly status: 'done' | 'failed';
  readonly platformEventId?: string;
}

/**
 * The outcomes of a batch of renders not yet recorded (RenderWorker records them in one
 * transaction), in render order. The platform event IDs of messages rendered in the batch are
 * looked up here first: a reply or edit rendered after its target in the same batch needs it.
 */
export class RenderResults {
  private readonly results: RenderResult[] = [];
  private readonly byMessageId = new Map<string, string>();

  get size(): number {
    return this.results.length;
  }

  add(result: RenderResult): void {
    this.results.push(result);
    if (result.platformEventId !== undefined && result.event.messageId !== null) {
      this.byMessageId.set(result.event.messageId, result.platformEventId);
    }
  }

  /** The platform event ID a message got in this batch, if it was rendered in it. */
  platformEventIdOf(messageId: string): string | undefined {
    return this.byMessageId.get(messageId);
  }

  all(): readonly RenderResult[] {
    return this.results;
  }

  clear(): void {
    this.results.length = 0;
    this.byMessageId.clear();
  }
}
