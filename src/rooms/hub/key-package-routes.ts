/**
 * The hub's KeyPackageRef → provider table (protocol-06 §4.3.1, §5.2): "when a client requests key
 * material via the hub, the hub records the KeyPackageRef values for the returned KeyPackages,
 * and the identity of the provider from which they were received. This information is then used
 * to route Welcome messages to the proper provider."
 *
 * One record per KeyPackage we passed on (`mls_kv` key `hub/kp-route/<ref base64url>`): the room
 * it was fetched for, the provider it came from (where its Welcome goes), the provider that asked
 * (a follower, or this hub itself) and the user it belongs to. A Welcome is routed by its
 * `new_member` refs (`route`); a record is dropped once its Welcome went out (`forget`) — or
 * ignored once the KeyPackage's lifetime ended (a KeyPackage past `not_after` cannot be used).
 */
import { Injectable } from '@nestjs/common';
import type { ProviderDomain, RoomUri, UserUri } from '../../common/ids';
import { unframeMlsMessage, welcomeFromBytes } from '../../mls/mls-message';
import { DbMlsStorage } from '../../persistence/db-mls-storage';

const PREFIX = 'hub/kp-route/';

/** Where a KeyPackage came from and for whom it was fetched. */
export interface KeyPackageRoute {
  readonly room: RoomUri;
  /** The provider that answered `/keyMaterial` with it: its Welcome goes there. */
  readonly provider: ProviderDomain;
  /** The provider that asked (a follower for a proxied request, or this hub). */
  readonly requester: ProviderDomain;
  /** The user its credential names. */
  readonly user: UserUri;
  /** Its leaf's `not_after`, ms since the epoch. */
  readonly notAfter: number;
}

/** A recorded KeyPackage: its ref and the route. */
export interface RoutedKeyPackage {
  readonly ref: Uint8Array;
  readonly route: KeyPackageRoute;
}

/** A Welcome's routing: the providers with the refs each gets, and the refs nobody recorded. */
export interface WelcomeRouting {
  readonly destinations: ReadonlyMap<ProviderDomain, readonly Uint8Array[]>;
  readonly routed: readonly RoutedKeyPackage[];
  readonly unknown: readonly Uint8Array[];
}

/** The `new_member` KeyPackageRefs of a Welcome (bare or MLSMessage), none for no Welcome. */
export function welcomeRefs(welcome: Uint8Array | undefined): Uint8Array[] {
  return welcome === undefined ? [] : welcomeFromBytes(unframeMlsMessage(welcome)).secrets.map((s) => s.newMember);
}

const keyOf = (ref: Uint8Array): string => PREFIX + Buffer.from(ref).toString('base64url');

@Injectable()
export class KeyPackageRoutes {
  /** `storage`: `mls_kv` (reads and writes join the caller's RoomTransactions transaction). */
  constructor(private readonly storage: DbMlsStorage) {}

  /** Record each KeyPackage's route (in the caller's transaction, if any). */
  async record(packages: readonly RoutedKeyPackage[]): Promise<void> {
    for (const p of packages) {
      await this.storage.put(keyOf(p.ref), new Uint8Array(Buffer.from(JSON.stringify(p.route), 'utf8')));
    }
  }

  /** The route of one KeyPackage, when recorded for `room` and not expired at `now`. */
  async lookup(ref: Uint8Array, room: RoomUri, now: number): Promise<KeyPackageRoute | undefined> {
    const bytes = await this.storage.get(keyOf(ref));
    if (bytes === undefined) return undefined;
    const route = JSON.parse(Buffer.from(bytes).toString('utf8')) as KeyPackageRoute;
    return route.room === room && route.notAfter >= now ? route : undefined;
  }

  /** Where a Welcome whose `new_member` refs are `refs` goes, for `room`. */
  async route(room: RoomUri, refs: readonly Uint8Array[], now: number): Promise<WelcomeRouting> {
    const destinations = new Map<ProviderDomain, Uint8Array[]>();
    const routed: RoutedKeyPackage[] = [];
    const unknown: Uint8Array[] = [];
    for (const ref of refs) {
      const route = await this.lookup(ref, room, now);
      if (route === undefined) {
        unknown.push(ref);
        continue;
      }
      routed.push({ ref, route });
      const list = destinations.get(route.provider) ?? [];
      list.push(ref);
      destinations.set(route.provider, list);
    }
    return { destinations, routed, unknown };
  }

  /** Drop the records of `refs` (their Welcome went out). */
  async forget(refs: readonly Uint8Array[]): Promise<void> {
    for (const ref of refs) await this.storage.delete(keyOf(ref));
  }
}
