import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { CLOCK, type Clock } from '../common/clock';
import { ErrorCode, GatewayError, PlatformError, errorMessage } from '../common/errors';
import { type ProviderDomain, type RoomUri, type UserUri, domainOf } from '../common/ids';
import { GatewayConfig } from '../config/gateway-config';
import { type FanoutMessage, encodeFanoutBody } from '../mimi/wire';
import type { GatewayGroupSummary, GatewayProcessed } from '../mls';
import type { Tx } from '../persistence';
import { type RoomRecord, RoomRepository } from '../persistence/repositories/room.repository';
import {
  type JoinRule,
  type LegacyRoomRef,
  type LegacyUserRef,
  PLATFORM_BRIDGES,
  type PlatformBridge,
  hasJoinRules,
} from '../ports';

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
import { otherDomains } from './group-summaries';
import { parseLegacyUserUri } from './identity';
import { MlsGroups } from './mls-groups';
import { ProfileSync } from './profile-sync';

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
  /** Names and avatars of the MIMI users our ghosts/puppets stand for. */
  readonly profiles = new ProfileSync((platform) => this.bridge(platform), this.logger);

  constructor(
    config: GatewayConfig,
    @Inject(PLATFORM_BRIDGES) bridges: readonly PlatformBridge[],
    readonly rooms: RoomRepository,
    readonly groups: MlsGroups,
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

  /** The legacy room's join rule; `invite` when the bridge cannot tell. */
  async joinRuleOf(room: RoomRecord): Promise<JoinRule> {
    const bridge = this.bridge(room.platform);
    if (!hasJoinRules(bridge)) return 'invite';
    try {
      return await bridge.joinRule(this.legacyRoom(room));
    } catch (e) {
      this.logger.warn(`room=${room.roomUri}: join rule unknown (${errorMessage(e)}); treated as invite-only`);
      return 'invite';
    }
  }

  /** Tell the author of a platform event what went wrong (the port's `notifyFailure`), best effort. */
  async tellUser(room: RoomRecord, platformEventId: string, text: string): Promise<void> {
    try {
      await this.bridge(room.platform).notifyFailure(this.legacyRoom(room), { platformEventId }, text);
    } catch (e) {
      this.logger.warn(`room=${room.roomUri}: notifyFailure: ${errorMessage(e)}`);
    }
  }

  /** Our users who are members of the room's group (puppets, and the bot on a hub), in leaf order. */
  async activeMembers(roomUri: RoomUri): Promise<UserUri[]> {
    return ((await this.groups.view(roomUri))?.localMembers ?? []).map((m) => m.user);
  }

  /** The room's group as we see it, or `undefined` when we have no member left in it. */
  async groupView(roomUri: RoomUri): Promise<GatewayGroupSummary | undefined> {
    const view = await this.groups.view(roomUri);
    return view === undefined || view.localMembers.length === 0 ? undefined : view;
  }

  /** Other providers with clients in the group: where the hub fans out (protocol-06 §5.5). */
  followerDomains(group: Pick<GatewayGroupSummary, 'members'>): readonly ProviderDomain[] {
    return otherDomains(group.members, this.domain);
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
   * Process a handshake message (commit or proposal) once for the room's group, in `tx`: the
   * shared state serves all our members. Our users the commit removed are dropped from the room's
   * local members. Undefined when we hold no group for the room.
   * @throws MlsGroupError / MlsProtocolError when MLS refuses the message.
   */
  async processHandshake(tx: Tx, roomUri: RoomUri, message: Uint8Array): Promise<GatewayProcessed | undefined> {
    const group = await this.groups.group(roomUri);
    if (group === undefined) return undefined;
    const result = await group.processMessage(message);
    if (result.kind === 'commit') {
      for (const user of result.removedLocalUsers) {
        await this.rooms.removeLocalMember(tx, roomUri, user);
        this.logger.log(`${user} was removed from ${roomUri}`);
      }
    }
    return result;
  }

  now(): number {
    return this.clock.now();
  }
}

/** SHA-256 (hex) of bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
