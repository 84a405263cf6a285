import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { CLOCK, type Clock } from '../common/clock';
import { ErrorCode, GatewayError, PlatformError, errorMessage } from '../common/errors';
import { type ProviderDomain, type RoomUri, type UserUri, domainOf } from '../common/ids';
import { GatewayConfig } from '../config/gateway-config';
import { type FanoutMessage, encodeFanoutBody } from '../mimi/wire';
import { type GroupSummary, type MemberClient, type ProcessedMessage, groupIdForRoom } from '../mls';
import type { Tx } from '../persistence';
import { type RoomRecord, RoomRepository } from '../persistence/repositories/room.repository';
import { type LegacyRoomRef, type LegacyUserRef, PLATFORM_BRIDGES, type PlatformBridge } from '../ports';

/** A type guard of src/ports/capabilities.port.ts (`canModerate`, `hasPuppetMembership`, …). */
export type CapabilityGuard<C> = (bridge: PlatformBridge) => bridge is PlatformBridge & C;

/**
 * `bridge` narrowed to an optional capability, for an action the core cannot do without it.
 * @throws PlatformError(PlatformRejected, not retryable) naming what the bridge lacks
 */
export function need<C>(bridge: PlatformBridge, has: CapabilityGuard<C>, capability: string): PlatformBridge & C {
  if (has(bridge)) return bridge;
  throw new PlatformError(ErrorCode.PlatformRejected, `the ${bridge.platform} bridge has no ${capability}`, {
    retryable: false,
  });
}
import { OutboxService } from '../replication';
import { parseLegacyUserUri } from './identity';
import { MemberClients } from './member-clients';

/** One fan-out item and the providers it goes to. */
export interface FanoutItem {
  readonly destinations: readonly ProviderDomain[];
  readonly message: FanoutMessage;
}

/**
 * What hub and follower logic share: the bridges by platform, the local MLS members of a room,
 * and fan-out through the outbox (protocol-06 §5.5).
 */
@Injectable()
export class RoomSupport {
  private readonly logger = new Logger(RoomSupport.name);
  readonly domain: ProviderDomain;
  private readonly bridges = new Map<string, PlatformBridge>();

  constructor(
    config: GatewayConfig,
    @Inject(PLATFORM_BRIDGES) bridges: readonly PlatformBridge[],
    readonly rooms: RoomRepository,
    readonly clients: MemberClients,
    private readonly outbox: OutboxService,
    @Inject(CLOCK) readonly clock: Clock,
  ) {
    this.domain = config.provider.domain as ProviderDomain;
    for (const bridge of bridges) {
      if (this.bridges.has(bridge.platform)) {
        throw new GatewayError(ErrorCode.ConfigInvalid, `two bridges claim the platform ${bridge.platform}`);
      }
      this.bridges.set(bridge.platform, bridge);
    }
  }

  allBridges(): PlatformBridge[] {
    return [...this.bridges.values()];
  }

  hasBridge(platform: string): boolean {
    return this.bridges.has(platform);
  }

  /** @throws GatewayError(NotFound) when no bridge serves `platform`. */
  bridge(platform: string): PlatformBridge {
    const bridge = this.bridges.get(platform);
    if (bridge === undefined) throw new GatewayError(ErrorCode.NotFound, `no bridge for platform ${platform}`);
    return bridge;
  }

  legacyRoom(room: RoomRecord): LegacyRoomRef {
    return { platform: room.platform as LegacyRoomRef['platform'], roomId: room.legacyRoomId };
  }

  isOurs(user: string): boolean {
    return domainOf(user) === this.domain;
  }

  /** The legacy user behind one of our own user URIs, or undefined for anyone else (ghosts included). */
  nativeUser(user: UserUri): LegacyUserRef | undefined {
    const legacy = parseLegacyUserUri(user);
    return legacy && legacy.domain === this.domain ? { platform: legacy.platform, userId: legacy.userId } : undefined;
  }

  /** Tell the author of a platform event what went wrong (the port's `notifyFailure`), best effort. */
  async tellUser(room: RoomRecord, platformEventId: string, text: string): Promise<void> {
    try {
      await this.bridge(room.platform).notifyFailure(this.legacyRoom(room), { platformEventId }, text);
    } catch (e) {
      this.logger.warn(`room=${room.roomUri}: notifyFailure: ${errorMessage(e)}`);
    }
  }

  /** Our member clients in the room that still belong to its group. */
  async activeMembers(tx: Tx | undefined, roomUri: RoomUri): Promise<MemberClient[]> {
    const groupId = groupIdForRoom(roomUri);
    const active: MemberClient[] = [];
    for (const user of await this.rooms.localMembers(tx, roomUri)) {
      const client = await this.clients.client(user);
      if (await client.isActive(groupId)) active.push(client);
    }
    return active;
  }

  /** The group as one of our active members sees it (the bot on a hub), or `undefined` when we have none left. */
  async groupView(tx: Tx | undefined, roomUri: RoomUri): Promise<GroupSummary | undefined> {
    const [first] = await this.activeMembers(tx, roomUri);
    return first === undefined ? undefined : first.group(groupIdForRoom(roomUri));
  }

  /** Other providers with clients in the group: where the hub fans out (protocol-06 §5.5). */
  followerDomains(group: Pick<GroupSummary, 'members'>): ProviderDomain[] {
    const domains = new Set<ProviderDomain>();
    for (const m of group.members) {
      const d = m.user === undefined ? undefined : domainOf(m.user);
      if (d !== undefined && d !== this.domain) domains.add(d);
    }
    return [...domains].sort();
  }

  /**
   * Store fan-out items in `tx`: one outbox row per destination, each item with the next position
   * of the room's fan-out sequence, so every follower gets them in this order.
   */
  async fanout(tx: Tx, roomUri: RoomUri, items: readonly FanoutItem[]): Promise<void> {
    const live = items.filter((i) => i.destinations.length > 0);
    if (live.length === 0) return;
    let seq = await this.rooms.allocateFanoutSeq(tx, roomUri, live.length);
    const messages = [];
    for (const item of live) {
      const body = encodeFanoutBody([item.message]);
      for (const destination of item.destinations) {
        messages.push({
          destination,
          roomUri,
          endpoint: 'notify' as const,
          body,
          idempotencyKey: `notify:${createHash('sha256').update(`${roomUri}#${seq}@${destination}`).digest('hex')}`,
        });
      }
      seq += 1;
    }
    await this.outbox.enqueueAll(tx, messages);
  }

  /**
   * Let each of our clients in the room (except `except`) process a handshake message (commit or
   * proposal), in `tx`. A client that the commit removed is dropped from the room's local members.
   * Failures are logged per client and do not stop the others.
   */
  async processByLocalMembers(
    tx: Tx,
    roomUri: RoomUri,
    message: Uint8Array,
    except: readonly UserUri[] = [],
  ): Promise<{ user: UserUri; result?: ProcessedMessage; error?: unknown }[]> {
    const outcomes: { user: UserUri; result?: ProcessedMessage; error?: unknown }[] = [];
    const groupId = groupIdForRoom(roomUri);
    for (const user of await this.rooms.localMembers(tx, roomUri)) {
      if (except.includes(user)) continue;
      const client = await this.clients.client(user);
      if (!(await client.isActive(groupId))) continue;
      try {
        const result = await client.processMessage(message);
        if (result.kind === 'commit' && result.removedSelf) {
          await this.rooms.removeLocalMember(tx, roomUri, user);
          this.logger.log(`${user} was removed from ${roomUri}`);
        }
        outcomes.push({ user, result });
      } catch (error) {
        this.logger.error(`room=${roomUri} user=${user}: cannot process handshake: ${errorMessage(error)}`);
        outcomes.push({ user, error });
      }
    }
    return outcomes;
  }

  now(): number {
    return this.clock.now();
  }
}

/** SHA-256 (hex) of bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
