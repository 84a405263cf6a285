import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { CLOCK, type Clock } from '../common/clock';
import type { ProviderDomain, RoomUri, UserUri } from '../common/ids';
import { MetricsRegistry } from '../common/metrics';
import { GatewayConfig } from '../config/gateway-config';
import {
  type GatewayGroup,
  type GatewayGroupSummary,
  GroupStore,
  HubExternalSender,
  MlsErrorReason,
  MlsGroupError,
  groupIdForRoom,
} from '../mls';
import { DbMlsStorage } from '../persistence/db-mls-storage';
import { RoomTransactions } from '../persistence/room-transactions';
import { GroupSummaries } from './group-summaries';
import { hubCommitPolicy } from './hub-commit-policy';
import { gatewayBotUri } from './identity';

/** `mls_kv` key of this provider's external-sender key pair (protocol-06 §7.4). */
const HUB_SENDER_KEY = 'hub/external-sender';

/**
 * The MLS groups this gateway takes part in (src/mls/gateway `GroupStore`): ONE shared state per
 * room group for all our puppets (one per legacy user who takes part) and the gateway bot that
 * commits room changes on rooms we hub. State lives in `mls_kv`; after a rolled-back transaction
 * the touched groups and identities are dropped and reloaded from the database on next use. The
 * store runs the hub's commit policy (`hub-commit-policy.ts`) on every commit of a room we hub.
 */
@Injectable()
export class MlsGroups {
  private readonly logger = new Logger(MlsGroups.name);
  private hubSender?: Promise<HubExternalSender>;
  private sentListener?: (groupId: Uint8Array, user: UserUri) => void;
  readonly store: GroupStore;
  readonly domain: ProviderDomain;
  readonly botUser: UserUri;
  private readonly summaries = new GroupSummaries();

  constructor(
    config: GatewayConfig,
    private readonly storage: DbMlsStorage,
    transactions: RoomTransactions,
    @Inject(CLOCK) clock: Clock,
    @Optional() metrics?: MetricsRegistry,
  ) {
    this.domain = config.provider.domain as ProviderDomain;
    this.botUser = gatewayBotUri(this.domain);
    const { leafKeyMaxAgeHours, leafKeyMaxMessages } = config.mls;
    this.store = new GroupStore(storage, {
      policy: hubCommitPolicy(this.domain),
      leafKeyMaxAgeMs: leafKeyMaxAgeHours * 3_600_000,
      leafKeyMaxMessages,
      onMessageSent: (groupId, user) => this.sentListener?.(groupId, user),
      idleClock: () => clock.now(),
      uncommittedKeys: () => transactions.uncommittedKeys(),
    });
    transactions.onRollback((keys) => this.forgetTouched(keys));
    metrics?.gauge(
      'mimi_mls_groups_loaded',
      'MLS groups (rooms) in memory: loaded on use, unloaded when idle or least recently used',
      () => [{ labels: {}, value: this.store.loadedCount }],
    );
    metrics?.gauge('mimi_mls_identities_cached', 'Puppet and bot MLS identities in memory (unloaded when idle)', () => [
      { labels: {}, value: this.store.identities.cachedCount },
    ]);
  }

  /** `listener` hears of every message a local member sent (`LeafKeyRotation` checks its key). */
  onMessageSent(listener: (groupId: Uint8Array, user: UserUri) => void): void {
    this.sentListener = listener;
  }

  /** The room's group if it is in memory now, without counting as a use (periodic checks). */
  loadedGroup(roomUri: RoomUri): GatewayGroup | undefined {
    return this.store.loadedGroup(groupIdForRoom(roomUri));
  }

  /** The room's group, or undefined when we hold none. */
  group(roomUri: RoomUri): Promise<GatewayGroup | undefined> {
    return this.store.group(groupIdForRoom(roomUri));
  }

  /** @throws MlsGroupError(UnknownGroup) */
  async requireGroup(roomUri: RoomUri): Promise<GatewayGroup> {
    const g = await this.group(roomUri);
    if (g === undefined) throw new MlsGroupError(MlsErrorReason.UnknownGroup, `no MLS group for ${roomUri}`);
    return g;
  }

  /** The room's group as we see it, or undefined when we hold none. */
  async view(roomUri: RoomUri): Promise<GatewayGroupSummary | undefined> {
    const group = await this.group(roomUri);
    return group && this.summaryOf(group);
  }

  /** `group.summary()`, computed once per group state (`GroupSummaries`): O(members), so not per message. */
  summaryOf(group: GatewayGroup): GatewayGroupSummary {
    return this.summaries.of(group);
  }

  /** Whether `user` is one of our members of the room's group. */
  async isActive(roomUri: RoomUri, user: UserUri): Promise<boolean> {
    return (await this.group(roomUri))?.isLocalMember(user) ?? false;
  }

  /** This provider's external-sender identity, generated and stored on first use. */
  hub(): Promise<HubExternalSender> {
    if (this.hubSender === undefined) {
      this.hubSender = this.loadHubSender();
      this.hubSender.catch(() => (this.hubSender = undefined));
    }
    return this.hubSender;
  }

  /** `user`'s signature key and credential (identity made on first use). */
  identity(user: UserUri): ReturnType<GroupStore['identities']['getOrCreate']> {
    return this.store.identities.getOrCreate(user);
  }

  private async loadHubSender(): Promise<HubExternalSender> {
    const stored = await this.storage.get(HUB_SENDER_KEY);
    if (stored !== undefined) return HubExternalSender.fromBytes(stored);
    const fresh = HubExternalSender.generate(this.domain);
    await this.storage.put(HUB_SENDER_KEY, fresh.toBytes());
    return fresh;
  }

  private forgetTouched(keys: ReadonlySet<string>): void {
    if (keys.has(HUB_SENDER_KEY)) this.hubSender = undefined;
    this.store.forgetTouched(keys);
    this.logger.debug(`dropped cached MLS state of ${keys.size} record(s) after a rollback`);
  }
}
