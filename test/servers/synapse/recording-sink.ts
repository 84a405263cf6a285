import { EventEmitter } from 'node:events';
import { ErrorCode, GatewayError, PlatformError } from '../../../src/common/errors';
import { type RoomUri } from '../../../src/common/ids';
import type { BridgeHost, InboundEvent, LegacyRoomRef, LegacyUserRef, LinkStatus } from '../../../src/ports';

/**
 * The core's side of the port as far as a bridge can tell: records inbound events "durably"
 * (in memory), recognises a redelivered event by platformEventId, and can be told to fail.
 */
export class RecordingSink {
  readonly events: InboundEvent[] = [];
  /** How many times each platformEventId was handed over (redeliveries included). */
  readonly deliveries = new Map<string, number>();
  private readonly emitter = new EventEmitter();
  private failures: { count: number; error: Error }[] = [];
  private hang?: Promise<void>;
  private hangSignal?: () => void;

  readonly fn = (e: InboundEvent): Promise<void> => this.record(e);

  /** The next `count` events are refused with `error` (retryable PlatformUnavailable by default). */
  failNext(count: number, error: Error = new PlatformError(ErrorCode.PlatformUnavailable, 'store unavailable')): void {
    this.failures.push({ count, error });
  }

  /** From now on every call waits (never resolving) until release(); onHang fires at the first. */
  hangFromNow(): Promise<void> {
    this.hang = new Promise<void>(() => undefined);
    return new Promise<void>((resolve) => (this.hangSignal = resolve));
  }

  release(): void {
    this.hang = undefined;
  }

  private async record(e: InboundEvent): Promise<void> {
    this.deliveries.set(e.platformEventId, (this.deliveries.get(e.platformEventId) ?? 0) + 1);
    if (this.hang) {
      this.hangSignal?.();
      await this.hang;
    }
    const f = this.failures[0];
    if (f) {
      f.count -= 1;
      if (f.count <= 0) this.failures.shift();
      throw f.error;
    }
    if (this.events.some((x) => x.platformEventId === e.platformEventId)) return; // duplicate: already recorded
    this.events.push(e);
    this.emitter.emit('event', e);
  }

  find<K extends InboundEvent['kind']>(
    kind: K,
    pred: (e: Extract<InboundEvent, { kind: K }>) => boolean,
  ): Extract<InboundEvent, { kind: K }> | undefined {
    return this.events.find((e): e is Extract<InboundEvent, { kind: K }> => e.kind === kind && pred(e as never));
  }

  /** Wait for a recorded event (already recorded or arriving within timeoutMs). */
  waitFor<K extends InboundEvent['kind']>(
    kind: K,
    pred: (e: Extract<InboundEvent, { kind: K }>) => boolean,
    timeoutMs = 20_000,
  ): Promise<Extract<InboundEvent, { kind: K }>> {
    const existing = this.find(kind, pred);
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.emitter.off('event', on);
        reject(new Error(`no ${kind} event matching within ${timeoutMs} ms`));
      }, timeoutMs);
      const on = (e: InboundEvent): void => {
        if (e.kind === kind && pred(e as never)) {
          clearTimeout(timer);
          this.emitter.off('event', on);
          resolve(e as Extract<InboundEvent, { kind: K }>);
        }
      };
      this.emitter.on('event', on);
    });
  }
}

/** A BridgeHost that records requests and answers like a core would. */
export class FakeBridgeHost implements BridgeHost {
  readonly linked = new Map<string, LinkStatus>();
  readonly calls: { op: string; roomId?: string; roomUri?: string; by: string }[] = [];
  /** joinRemote creates the mirror room through this (the bridge's createMirrorRoom). */
  mirror?: (roomUri: RoomUri) => Promise<LegacyRoomRef>;

  constructor(private readonly domain: string) {}

  async link(room: LegacyRoomRef, requestedBy: LegacyUserRef): Promise<LinkStatus> {
    this.calls.push({ op: 'link', roomId: room.roomId, by: requestedBy.userId });
    const status: LinkStatus = {
      room,
      roomUri: `mimi://${this.domain}/r/${encodeURIComponent(room.roomId)}` as RoomUri,
      role: 'hub',
      hub: this.domain,
      participants: 1,
      followers: [],
    };
    this.linked.set(room.roomId, status);
    return status;
  }

  async unlink(room: LegacyRoomRef, requestedBy: LegacyUserRef): Promise<void> {
    this.calls.push({ op: 'unlink', roomId: room.roomId, by: requestedBy.userId });
    if (!this.linked.delete(room.roomId)) throw new GatewayError(ErrorCode.NotFound, 'room is not linked');
  }

  async status(room: LegacyRoomRef): Promise<LinkStatus | undefined> {
    return this.linked.get(room.roomId);
  }

  /** A room upgrade followed: the link moves from `from` to `to` (same MIMI room). */
  async moveLink(
    from: LegacyRoomRef,
    to: LegacyRoomRef,
    requestedBy: LegacyUserRef,
  ): Promise<{ roomUri: RoomUri; moved: boolean }> {
    this.calls.push({ op: 'moveLink', roomId: `${from.roomId} -> ${to.roomId}`, by: requestedBy.userId });
    const status = this.linked.get(from.roomId) ?? this.linked.get(to.roomId);
    if (!status) throw new GatewayError(ErrorCode.NotFound, 'room is not linked');
    if (!this.linked.delete(from.roomId)) return { roomUri: status.roomUri, moved: false };
    this.linked.set(to.roomId, { ...status, room: to });
    return { roomUri: status.roomUri, moved: true };
  }

  async joinRemote(roomUri: RoomUri, requestedBy: LegacyUserRef): Promise<LegacyRoomRef> {
    this.calls.push({ op: 'joinRemote', roomUri, by: requestedBy.userId });
    if (!this.mirror) throw new GatewayError(ErrorCode.NotFound, 'unknown room');
    return this.mirror(roomUri);
  }
}
