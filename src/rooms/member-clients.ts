import { Injectable, Logger } from '@nestjs/common';
import type { ProviderDomain, UserUri } from '../common/ids';
import { GatewayConfig } from '../config/gateway-config';
import { HubExternalSender, MemberClient } from '../mls';
import { DbMlsStorage } from '../persistence/db-mls-storage';
import { gatewayBotUri } from './identity';
import { RoomTransactions } from '../persistence/room-transactions';

/** `mls_kv` key of this provider's external-sender key pair (protocol-06 §7.4). */
export const HUB_SENDER_KEY = 'hub/external-sender';

/**
 * The MLS member clients ("puppets", MIMI-NOTES §0.1) this gateway runs: one per legacy user who
 * takes part in a room, plus the gateway bot that commits room changes on rooms we hub. Clients
 * are opened lazily from `mls_kv` and kept; after a rolled-back transaction the touched ones are
 * dropped and reopened from the database on next use.
 */
@Injectable()
export class MemberClients {
  private readonly logger = new Logger(MemberClients.name);
  private readonly clients = new Map<string, Promise<MemberClient>>();
  private hubSender?: Promise<HubExternalSender>;
  readonly domain: ProviderDomain;
  readonly botUser: UserUri;

  constructor(
    config: GatewayConfig,
    private readonly storage: DbMlsStorage,
    transactions: RoomTransactions,
  ) {
    this.domain = config.provider.domain as ProviderDomain;
    this.botUser = gatewayBotUri(this.domain);
    transactions.onRollback((keys) => this.forgetTouched(keys));
  }

  /** The client of `user`, created with a fresh identity on first use. */
  client(user: UserUri): Promise<MemberClient> {
    let client = this.clients.get(user);
    if (client === undefined) {
      client = MemberClient.openOrCreate(user, { storage: this.storage });
      this.clients.set(user, client);
      client.catch(() => this.clients.delete(user));
    }
    return client;
  }

  bot(): Promise<MemberClient> {
    return this.client(this.botUser);
  }

  /** This provider's external-sender identity, generated and stored on first use. */
  hub(): Promise<HubExternalSender> {
    if (this.hubSender === undefined) {
      this.hubSender = this.loadHubSender();
      this.hubSender.catch(() => (this.hubSender = undefined));
    }
    return this.hubSender;
  }

  private async loadHubSender(): Promise<HubExternalSender> {
    const stored = await this.storage.get(HUB_SENDER_KEY);
    if (stored !== undefined) return HubExternalSender.fromBytes(stored);
    const fresh = await HubExternalSender.generate(this.domain);
    await this.storage.put(HUB_SENDER_KEY, fresh.toBytes());
    return fresh;
  }

  private forgetTouched(keys: ReadonlySet<string>): void {
    for (const key of keys) {
      if (key === HUB_SENDER_KEY) {
        this.hubSender = undefined;
        continue;
      }
      const encoded = key.split('/')[2];
      if (encoded === undefined) continue;
      let user: string;
      try {
        user = decodeURIComponent(encoded);
      } catch {
        continue;
      }
      if (this.clients.delete(user)) this.logger.debug(`dropped the cached MLS client of ${user} after a rollback`);
    }
  }
}
