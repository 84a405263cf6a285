/**
 * The hub keeps the room state components (room-components.ts) in step with its legacy room:
 * what a newly linked room starts with, and an AppDataUpdate commit of the bot (the existing hub
 * commit path, `HubCommits.commitByBot`) when the platform's name, topic, avatar, permissions or
 * join rule change. Only components whose bytes change are updated; no change, no commit.
 */
import { Injectable, Logger } from '@nestjs/common';
import type { ProviderDomain, RoomUri } from '../../common/ids';
import { GatewayConfig } from '../../config/gateway-config';
import { type ComponentData } from '../../mls';
import { RoomEventRepository } from '../../persistence/repositories/room-event.repository';
import type { RoomRecord } from '../../persistence/repositories/room.repository';
import { RoomTransactions } from '../../persistence/room-transactions';
import {
  type InboundEvent,
  type JoinRule,
  type LegacyRoomRef,
  type PlatformBridge,
  type RoomSnapshot,
  hasJoinRules,
} from '../../ports';
import { HubCommits } from '../hub-commits';
import { MlsGroups } from '../mls-groups';
import { RoomSupport } from '../room-support';
import {
  changedComponents,
  metadataComponent,
  policyComponents,
  readRoomState,
  roomStateComponents,
  withLegacyChange,
} from './room-components';
import { assetPolicyOf } from './asset-policy-of';

type StateEvent = Extract<InboundEvent, { kind: 'roomMetadata' | 'roomPolicy' }>;

/** The join rule a snapshot gives, else the bridge's `joinRule`, else invite-only. */
async function joinRuleOf(bridge: PlatformBridge, snapshot: RoomSnapshot, ref: LegacyRoomRef): Promise<JoinRule> {
  if (snapshot.joinRule !== undefined) return snapshot.joinRule;
  return hasJoinRules(bridge) ? bridge.joinRule(ref) : 'invite';
}

@Injectable()
export class HubRoomState {
  private readonly logger = new Logger(HubRoomState.name);

  constructor(
    private readonly support: RoomSupport,
    private readonly groups: MlsGroups,
    private readonly commits: HubCommits,
    private readonly events: RoomEventRepository,
    private readonly transactions: RoomTransactions,
    private readonly config: GatewayConfig,
  ) {}

  /** The components a room linked from `snapshot` starts with (in its first GroupContext). */
  async initialComponents(roomUri: RoomUri, bridge: PlatformBridge, snapshot: RoomSnapshot): Promise<ComponentData[]> {
    const joinRule = await joinRuleOf(bridge, snapshot, snapshot.room);
    return roomStateComponents(
      { domain: this.support.domain as ProviderDomain, roomUri, platform: bridge.platform },
      { ...snapshot, joinRule },
      assetPolicyOf(
        this.support.domain,
        this.config.provider.publicBaseUrl ?? `https://${this.support.domain}`,
        this.config.media,
      ),
    );
  }

  /**
   * The legacy room's name/topic/avatar (`roomMetadata`) or rules (`roomPolicy`) changed: the
   * bot commits the changed components by AppDataUpdate and the event is recorded (idempotent on
   * its platform event ID, like every legacy event). Caller holds the room lock.
   */
  async onLegacyChange(room: RoomRecord, event: StateEvent): Promise<void> {
    const group = await this.groups.requireGroup(room.roomUri);
    const extensions = group.coreState.context.extensions;
    const wanted =
      event.kind === 'roomMetadata'
        ? [metadataComponent(withLegacyChange(readRoomState(extensions).metadata, room.roomUri, event))]
        : await this.policyOf(room, event);
    const changed = changedComponents(extensions, wanted);
    await this.transactions.run(async (tx) => {
      if (changed.length > 0) await this.commits.commitByBot(tx, room, { appData: changed });
      await this.events.recordLegacyEvent(tx, {
        platform: room.platform,
        platformEventId: event.platformEventId,
        roomUri: room.roomUri,
        messageId: null,
      });
    });
    if (changed.length > 0) {
      const ids = changed.map((c) => `0x${c.componentId.toString(16).padStart(4, '0')}`).join(', ');
      this.logger.log(`room=${room.roomUri}: ${event.kind} ${event.platformEventId} updated component(s) ${ids}`);
    }
  }

  /** roles_list and base_room_policy after a rules change; what the event does not carry is read from the room. */
  private async policyOf(
    room: RoomRecord,
    event: Extract<StateEvent, { kind: 'roomPolicy' }>,
  ): Promise<ComponentData[]> {
    let { permissions, joinRule } = event;
    if (permissions === undefined || joinRule === undefined) {
      const bridge = this.support.bridge(room.platform);
      const ref = this.support.legacyRoom(room);
      // A failed read throws: the event is not recorded, and the bridge delivers it again.
      const snapshot = await bridge.getRoomSnapshot(ref);
      permissions ??= snapshot.permissions;
      joinRule ??= await joinRuleOf(bridge, snapshot, ref);
    }
    return policyComponents(permissions, joinRule);
  }
}
