import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ErrorCode, GatewayError, errorMessage } from '../common/errors';
import { domainOf, type ProviderDomain, type RoomUri, type UserUri } from '../common/ids';
import { decodeMimiContent } from '../mimi/content';
import type { GatewayGroupSummary } from '../mls';
import { RoomEventRepository } from '../persistence/repositories/room-event.repository';
import { type RoomRecord, type RoomRole, RoomRepository } from '../persistence/repositories/room.repository';
import { OutboxRepository } from '../persistence/repositories/outbox.repository';
import { BridgeStateRepository } from '../persistence/repositories/bridge-state.repository';
import type { BridgeHost, ParticipantRole } from '../ports';
import { contentToJson } from './content-mapping';
import { BridgeSinkService } from './bridge-sink.service';
import { FollowerService } from './follower.service';
import { HubService } from './hub.service';
import { RenderWorker } from './render.worker';
import { HubUnlink } from './hub/hub-unlink';
import { RoomLocks } from './room-locks';
import { roleOfIndex } from './room-policy';
import { RoomSupport } from './room-support';
import { RoomTransactions } from '../persistence/room-transactions';
import { RoomElsewhereError } from './ownership/room-elsewhere.error';
import { RoomOwnership } from './ownership/room-ownership';
import { RemoteInvites } from './invites';
import { LinkMoves } from './link-moves';

/** A room as the provisioning API lists it (contract: GET /provisioning/rooms). */
export interface RoomInfo {
  readonly roomUri: RoomUri;
  readonly role: RoomRole;
  readonly hub: ProviderDomain;
  readonly platform: string;
  readonly roomId: string;
  /** Current MLS epoch as our member clients see it (null when none of ours is left in the group). */
  readonly epoch: number | null;
  readonly participants: readonly { readonly userUri: UserUri; readonly role: ParticipantRole }[];
  /** Users with a client in the MLS group (active participants), as our member clients see it. */
  readonly members: readonly UserUri[];
  /** Users whose client on THIS gateway is in the group (our puppets and, on a hub, the bot). */
  readonly localMembers: readonly UserUri[];
}

/** A stored message as the provisioning API lists it (contract: GET /provisioning/rooms/:roomUri/events). */
export interface RoomEventInfo {
  readonly seq: number;
  readonly messageId: string;
  readonly senderUri: UserUri;
  /** The message's event ID on THIS gateway's platform, when it is known there. */
  readonly platformEventId: string | null;
  readonly content: Record<string, unknown>;
  readonly kind: string;
}

/**
 * Entry point of the rooms core: starts the bridges with the core's sink (BridgeSinkService, which
 * hands each inbound event to the hub or follower logic of its room), stops them, and serves the provisioning API (link, list, unlink, history).
 */
@Injectable()
export class RoomsService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(RoomsService.name);

  constructor(
    private readonly support: RoomSupport,
    private readonly rooms: RoomRepository,
    private readonly events: RoomEventRepository,
    private readonly hub: HubService,
    private readonly follower: FollowerService,
    private readonly render: RenderWorker,
    private readonly locks: RoomLocks,
    private readonly transactions: RoomTransactions,
    private readonly outbox: OutboxRepository,
    private readonly bridgeSink: BridgeSinkService,
    private readonly bridgeState: BridgeStateRepository,
    private readonly ownership: RoomOwnership,
    private readonly invites: RemoteInvites,
    private readonly upgrades: LinkMoves,
    private readonly hubUnlink: HubUnlink,
  ) {}

  private bridgesRunning = false;

  /** Start the bridges; with scale-out and `cluster.ingress: lease`, only while this process holds the ingress lease. */
  async onApplicationBootstrap(): Promise<void> {
    if (!this.ownership.ingressGated) return this.startBridges();
    await this.ownership.watchIngress((held) => (held ? this.startBridges() : this.stopBridges()));
    if (!this.ownership.holdsIngress()) this.logger.log("standing by: another process takes the platforms' traffic");
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.follower.stop();
    await this.stopBridges();
  }

  private async startBridges(): Promise<void> {
    if (this.bridgesRunning) return;
    this.bridgesRunning = true;
    for (const bridge of this.support.allBridges()) {
      await bridge.start(this.bridgeSink.sink, this.bridgeHost);
      this.logger.log(`bridge ${bridge.platform} started`);
    }
    await this.render.resumeAll();
    await this.follower.resumeSubmissions();
  }

  private async stopBridges(): Promise<void> {
    if (!this.bridgesRunning) return;
    this.bridgesRunning = false;
    for (const bridge of this.support.allBridges()) {
      try {
        await bridge.stop();
      } catch (e) {
        this.logger.warn(`bridge ${bridge.platform} did not stop cleanly: ${errorMessage(e)}`);
      }
    }
  }

  /**
   * The administrative requests bridges pass on: in-room `!mimi link|unlink|status` (the bridge
   * has checked the platform permission) and portal joins; and each bridge's durable state store.
   */
  readonly bridgeHost: BridgeHost = {
    link: async (room, requestedBy) => {
      const existing = await this.rooms.findByLegacyRoom(undefined, room.platform, room.roomId);
      if (existing?.role === 'follower') {
        throw new GatewayError(
          ErrorCode.Conflict,
          `${room.roomId} mirrors ${existing.roomUri}; it cannot be a hub too`,
        );
      }
      if (existing === undefined) {
        const roomUri = await this.link(room.platform, room.roomId);
        this.logger.log(`linked ${room.platform} ${room.roomId} as ${roomUri} (asked by ${requestedBy.userId})`);
      }
      return (await this.bridgeHost.status(room))!;
    },
    unlink: async (room, requestedBy) => {
      const existing = await this.rooms.findByLegacyRoom(undefined, room.platform, room.roomId);
      if (existing === undefined) throw new GatewayError(ErrorCode.NotFound, `${room.roomId} is not bridged`);
      await this.unlink(existing.roomUri, `unlinked by ${requestedBy.userId} on ${room.platform}`);
      this.logger.log(`unlinked ${room.platform} ${room.roomId} (asked by ${requestedBy.userId})`);
    },
    status: async (room) => {
      const existing = await this.rooms.findByLegacyRoom(undefined, room.platform, room.roomId);
      if (existing === undefined) return undefined;
      const info = await this.describe(existing);
      const followers = [
        ...new Set(info.participants.map((p) => domainOf(p.userUri)).filter((d) => d !== undefined && d !== info.hub)),
      ];
      return {
        room,
        roomUri: info.roomUri,
        role: info.role,
        hub: info.hub,
        participants: info.participants.length,
        // Backlog per follower provider, over all its rooms (what an operator acts on).
        followers: await this.outboxBacklog(followers.map((d) => d!)),
      };
    },
    stateStore: (platform) => this.bridgeState.storeFor(platform),
    invite: (room, address, requestedBy) => this.invites.inviteAddress(room, address, requestedBy),
    moveLink: (from, to, requestedBy) => this.upgrades.move(from, to, requestedBy),
    joinRemote: async (roomUri, requestedBy) => {
      // The room is asked of its hub and mirrored here; local users who join the mirror enter the
      // MIMI room by external commit (FollowerService.externalJoin).
      const room = await this.follower.followRemote(roomUri, requestedBy.platform);
      return this.support.legacyRoom(room);
    },
  };

  private async outboxBacklog(domains: readonly ProviderDomain[]): Promise<{ domain: string; pending: number }[]> {
    const depth = await this.outbox.pendingDepthByDestination();
    return domains.map((domain) => ({ domain, pending: depth.get(domain) ?? 0 }));
  }

  /**
   * Invite a MIMI user of another provider into a room hubbed here (provisioning API); see
   * RemoteInvites.inviteUri for what it does and throws.
   */
  inviteRemote(roomUri: RoomUri, userUri: UserUri): Promise<void> {
    return this.invites.inviteUri(roomUri, userUri);
  }

  /** Link a legacy room; this gateway becomes its hub. */
  link(platform: string, roomId: string): Promise<RoomUri> {
    return this.hub.linkRoom(platform, roomId);
  }

  /** Every room; one that another gateway process serves (scale-out) is listed without its MLS view (`epoch` null). */
  async list(): Promise<RoomInfo[]> {
    const out: RoomInfo[] = [];
    for (const room of await this.rooms.list()) {
      out.push(
        await this.describe(room).catch((e: unknown) => {
          if (e instanceof RoomElsewhereError) return this.infoOf(room, undefined, []);
          throw e;
        }),
      );
    }
    return out;
  }

  /**
   * Forget the link. On a hub, the followers are told first, in the same transaction
   * (hub/hub-unlink.ts: the bot removes the other providers' clients and participants, giving
   * `reason`), and the removed users' ghosts leave the legacy room. The room's log and the MLS
   * state stay in the database.
   * @throws GatewayError(NotFound)
   */
  async unlink(roomUri: RoomUri, reason = 'unlinked by the operator'): Promise<void> {
    const done = await this.locks.run(roomUri, () =>
      this.transactions.run(async (tx) => {
        const room = await this.rooms.findByUri(tx, roomUri);
        if (room === undefined) return undefined;
        const removed = room.role === 'hub' ? await this.hubUnlink.removeOthers(tx, room, reason) : [];
        await this.rooms.delete(tx, roomUri);
        return { room, removed };
      }),
    );
    if (done === undefined) throw new GatewayError(ErrorCode.NotFound, `no room ${roomUri}`);
    await this.hubUnlink.ghostsLeave(done.room, done.removed);
    this.logger.log(`unlinked ${roomUri}`);
  }

  /** The room's message log as this gateway stored it. @throws GatewayError(NotFound) */
  async history(roomUri: RoomUri): Promise<RoomEventInfo[]> {
    const room = await this.rooms.findByUri(undefined, roomUri);
    if (room === undefined) throw new GatewayError(ErrorCode.NotFound, `no room ${roomUri}`);
    // Platform IDs read first: an event stored in between has none yet, as if listed a moment earlier.
    const platformIds = await this.events.platformEventIds(undefined, roomUri, room.platform);
    return (await this.events.list(roomUri)).map((e) => ({
      seq: e.seq,
      messageId: e.messageId,
      senderUri: e.senderUri,
      platformEventId: platformIds.get(e.messageId) ?? null,
      content: contentToJson(decodeMimiContent(e.content)),
      kind: e.kind,
    }));
  }

  private async describe(room: RoomRecord): Promise<RoomInfo> {
    // Under the room's lock like every use of the room's MLS clients (README.md "Concurrency").
    const { view, local } = await this.locks.run(room.roomUri, async () => ({
      view: await this.support.groupView(room.roomUri),
      local: await this.support.activeMembers(room.roomUri),
    }));
    return this.infoOf(room, view, local);
  }

  private infoOf(room: RoomRecord, view: GatewayGroupSummary | undefined, local: UserUri[]): RoomInfo {
    return {
      roomUri: room.roomUri,
      role: room.role,
      hub: room.hubDomain,
      platform: room.platform,
      roomId: room.legacyRoomId,
      epoch: view === undefined ? null : Number(view.epoch),
      participants: (view?.participants ?? []).map((p) => ({ userUri: p.user, role: roleOfIndex(p.roleIndex) })),
      members: [...new Set((view?.members ?? []).flatMap((m) => (m.user === undefined ? [] : [m.user])))],
      localMembers: local,
    };
  }
}
