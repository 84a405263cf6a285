/**
 * Named fixtures and a tiny in-process "hub" for the MLS layer's specs. Two providers are
 * simulated: the hub provider (which hosts the room and runs the committing client) and a follower
 * provider, each with its own storage. Not used by production code.
 */
import { type ProviderDomain, type RoomUri, type UserUri, roomUri, userUri } from '../common/ids';
import type { Participant } from './app-data';
import { MemberClient, type MemberClientOptions, type ProcessedMessage } from './member-client';
import { InMemoryMlsStorage } from './mls-storage';

export const HUB_DOMAIN = 'hub.example' as ProviderDomain;
export const FOLLOWER_DOMAIN = 'follower.example' as ProviderDomain;
export const ROOM_URI: RoomUri = roomUri(HUB_DOMAIN, 'clubhouse');
export const ROOM_GROUP_URI = 'mimi://hub.example/g/clubhouse';

/** Users of the hub provider (legacy users the gateway speaks for). */
export const ALICE: UserUri = userUri(HUB_DOMAIN, 'alice');
export const BOB: UserUri = userUri(HUB_DOMAIN, 'bob');
/** Users of the follower provider. */
export const CATHY: UserUri = userUri(FOLLOWER_DOMAIN, 'cathy');
export const DAVE: UserUri = userUri(FOLLOWER_DOMAIN, 'dave');

/** Role indices as in room-policy-03 Appendix A (1 = banned is fixed by the draft). */
export const ROLE_BANNED = 1;
export const ROLE_MEMBER = 2;
export const ROLE_ADMIN = 4;

export const TEXT = new TextEncoder();
export const HELLO_FROM_ALICE = TEXT.encode('hello from alice (hub)');
export const HELLO_FROM_CATHY = TEXT.encode('hello from cathy (follower)');
export const AFTER_REMOVAL = TEXT.encode('sent after the removal');

export const asParticipant = (user: UserUri, roleIndex: number): Participant => ({ user, roleIndex });

/** One simulated provider: its own storage, holding the MLS clients of its users. */
export class FakeProvider {
  readonly storage = new InMemoryMlsStorage();
  readonly clients = new Map<UserUri, MemberClient>();

  constructor(
    readonly domain: ProviderDomain,
    private readonly extraOptions: Partial<MemberClientOptions> = {},
  ) {}

  get options(): MemberClientOptions {
    return { storage: this.storage, ...this.extraOptions };
  }

  async client(user: UserUri): Promise<MemberClient> {
    let client = this.clients.get(user);
    if (client === undefined) {
      client = await MemberClient.openOrCreate(user, this.options);
      this.clients.set(user, client);
    }
    return client;
  }
}

/** Deliver one MLSMessage to every given client (the hub's `/notify` fan-out, in order). */
export async function fanOut(bytes: Uint8Array, recipients: readonly MemberClient[]): Promise<ProcessedMessage[]> {
  const results: ProcessedMessage[] = [];
  for (const r of recipients) results.push(await r.processMessage(bytes));
  return results;
}
