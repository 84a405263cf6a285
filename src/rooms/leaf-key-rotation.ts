/**
 * Scheduled leaf-key rotation of our puppets (issue 9; RFC 9420 §16.6 post-compromise security):
 * a puppet whose leaf key is older than `mls.leafKeyMaxAgeHours` or protected
 * `mls.leafKeyMaxMessages` messages makes an UpdatePath commit of its own (`GatewayGroup.rotateLeafKey`).
 * Checked after every send (the store's `onMessageSent`, run once the send's room lock is free) and
 * by a sweep of the groups in memory every `mls.rotationSweepSeconds`; the sweep also rotates up
 * to `mls.pathFillPerSweep` puppets whose commit gives blank tree nodes keys again.
 *
 * On a room we hub the commit is accepted at once and fanned out like the bot's (`HubCommits`);
 * on a room we follow it goes to the hub with `/update` and is merged once the hub accepted it.
 */
import { AsyncResource } from 'node:async_hooks';
import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { RoomUri, UserUri } from '../common/ids';
import { errorMessage } from '../common/errors';
import { GatewayConfig } from '../config/gateway-config';
import { type GatewayGroup, MlsErrorReason, MlsGroupError, roomUriForGroupId } from '../mls';
import { RoomTransactions } from '../persistence/room-transactions';
import { type RoomRecord, RoomRepository } from '../persistence/repositories/room.repository';
import { HubRequests } from './hub-requests';
import { MlsGroups } from './mls-groups';
import { RoomLocks } from './room-locks';
import { RoomSupport } from './room-support';
import { commitFanout } from './wire-support';

@Injectable()
export class LeafKeyRotation implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(LeafKeyRotation.name);
  private readonly queued = new Set<RoomUri>();
  private timer?: NodeJS.Timeout;
  private stopped = false;
  /** An async context made at start, outside any transaction. */
  private readonly detached = new AsyncResource(LeafKeyRotation.name);

  constructor(
    private readonly config: GatewayConfig,
    private readonly groups: MlsGroups,
    private readonly locks: RoomLocks,
    private readonly transactions: RoomTransactions,
    private readonly support: RoomSupport,
    private readonly rooms: RoomRepository,
    private readonly hubRequests: HubRequests,
  ) {}

  onModuleInit(): void {
    this.groups.onMessageSent((groupId) => {
      const room = roomUriForGroupId(groupId);
      if (room !== undefined) this.queue(room);
    });
    this.scheduleSweep();
  }

  onModuleDestroy(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /**
   * Rotate the room's puppets that are due (and up to `fill` path-filling ones), one commit each,
   * under the room lock. Returns the puppets rotated; a refusal by the hub ends the round.
   */
  rotateDue(roomUri: RoomUri, fill = 0): Promise<UserUri[]> {
    return this.locks.run(roomUri, async () => {
      // Runs after every message: the in-memory checks come first, the room is read only when needed.
      // A loaded group is looked at without counting as a use, so that the sweep lets idle ones unload.
      const group = this.groups.loadedGroup(roomUri) ?? (await this.groups.group(roomUri));
      if (!group || group.removed) return [];
      const due = group.rotationDue();
      const users = [...due, ...group.pathFillCandidates(fill).filter((u) => !due.includes(u))];
      if (users.length === 0) return [];
      const room = await this.rooms.findByUri(undefined, roomUri);
      if (!room) return [];
      const done: UserUri[] = [];
      for (const user of users) {
        if (!group.isLocalMember(user)) continue;
        const ok =
          room.role === 'hub'
            ? await this.rotateAtHub(room, group, user)
            : await this.rotateAsFollower(room, group, user);
        if (!ok) break;
        done.push(user);
      }
      if (done.length > 0) this.logger.debug(`room=${roomUri}: rotated the leaf keys of ${done.join(', ')}`);
      return done;
    });
  }

  /** The sweep: every group in memory, due puppets plus `pathFillPerSweep` path fillers. */
  async sweep(): Promise<void> {
    for (const group of this.groups.store.loadedGroups()) {
      const room = roomUriForGroupId(group.groupId);
      if (room === undefined || this.stopped) continue;
      await this.rotateDue(room, this.config.mls.pathFillPerSweep).catch((e: unknown) => this.warn(room, e));
    }
  }

  private async rotateAtHub(room: RoomRecord, group: GatewayGroup, user: UserUri): Promise<boolean> {
    await this.transactions.run(async (tx) => {
      const before = group.summary();
      const staged = await group.rotateLeafKey(user);
      await group.mergeStagedCommit();
      const message = commitFanout(staged, this.support.now());
      await this.support.fanout(tx, room.roomUri, [{ destinations: this.support.followerDomains(before), message }]);
    });
    return true;
  }

  private async rotateAsFollower(room: RoomRecord, group: GatewayGroup, user: UserUri): Promise<boolean> {
    const staged = await group.rotateLeafKey(user);
    let accepted: boolean;
    try {
      const response = await this.hubRequests.sendUpdate(room, {
        commit: staged.commit,
        groupInfo: staged.groupInfo,
        ratchetTree: staged.ratchetTree,
      });
      accepted = response.responseCode === 'success';
      if (!accepted) {
        this.logger.warn(`room=${room.roomUri}: the hub refused ${user}'s key rotation: ${response.responseCode}`);
      }
    } catch (e) {
      await group.discardStagedCommit();
      throw e;
    }
    if (!accepted) {
      await group.discardStagedCommit();
      return false;
    }
    try {
      await this.transactions.run(() => group.mergeStagedCommit());
    } catch (e) {
      // The hub's /notify with this commit came first and merged it already.
      if (!(e instanceof MlsGroupError && e.reason === MlsErrorReason.NoCommitPending)) throw e;
    }
    return true;
  }

  /** Check `room` once the lock of the send that asked for it is free. */
  private queue(room: RoomUri): void {
    if (this.queued.has(room) || this.stopped) return;
    this.queued.add(room);
    // Outside the send's call chain: its ambient transaction must not be joined (or waited on).
    setImmediate(() =>
      this.detached.runInAsyncScope(() => {
        this.queued.delete(room);
        this.rotateDue(room).catch((e: unknown) => this.warn(room, e));
      }),
    );
  }

  private scheduleSweep(): void {
    const seconds = this.config.mls.rotationSweepSeconds;
    if (seconds === 0 || this.stopped) return;
    this.timer = setTimeout(() => {
      void this.sweep().finally(() => this.scheduleSweep());
    }, seconds * 1000);
    this.timer.unref();
  }

  private warn(room: RoomUri, e: unknown): void {
    this.logger.warn(`room=${room}: leaf-key rotation failed (tried again later): ${errorMessage(e)}`);
  }
}
