import type { ProviderDomain, RoomUri, UserUri } from '../../common/ids';
import { InMemoryMlsStorage } from '../../mls';
import type { DbMlsStorage } from '../../persistence/db-mls-storage';
import { type KeyPackageRoute, KeyPackageRoutes } from './key-package-routes';

const ROOM = 'mimi://a.example/r/lobby' as RoomUri;
const OTHER_ROOM = 'mimi://a.example/r/other' as RoomUri;
const C = 'c.example' as ProviderDomain;
const D = 'd.example' as ProviderDomain;
const B = 'b.example' as ProviderDomain;
const NOW = 1_800_000_000_000;
const ref = (n: number) => new Uint8Array(32).fill(n);
const route = (provider: ProviderDomain, more: Partial<KeyPackageRoute> = {}): KeyPackageRoute => ({
  room: ROOM,
  provider,
  requester: B,
  user: `mimi://${provider}/u/x` as UserUri,
  notAfter: NOW + 1000,
  ...more,
});

describe(KeyPackageRoutes.name, () => {
  let routes: KeyPackageRoutes;
  beforeEach(() => {
    routes = new KeyPackageRoutes(new InMemoryMlsStorage() as unknown as DbMlsStorage);
  });

  it('routes a Welcome to the providers its KeyPackages were fetched from, not by their credentials', async () => {
    // The KeyPackage of a d.example user that c.example served (as a proxy) goes to c.example.
    await routes.record([
      { ref: ref(1), route: route(C) },
      { ref: ref(2), route: route(C, { user: 'mimi://d.example/u/dan' as UserUri }) },
      { ref: ref(3), route: route(D) },
    ]);
    const routing = await routes.route(ROOM, [ref(1), ref(2), ref(3), ref(4)], NOW);
    expect([...routing.destinations.entries()]).toEqual([
      [C, [ref(1), ref(2)]],
      [D, [ref(3)]],
    ]);
    expect(routing.unknown).toEqual([ref(4)]);
    expect(routing.routed.map((r) => r.route.user)).toEqual([
      'mimi://c.example/u/x',
      'mimi://d.example/u/dan',
      'mimi://d.example/u/x',
    ]);
  });

  it('does not route a KeyPackage fetched for another room, or past its lifetime', async () => {
    await routes.record([
      { ref: ref(1), route: route(C, { room: OTHER_ROOM }) },
      { ref: ref(2), route: route(C, { notAfter: NOW - 1 }) },
    ]);
    expect((await routes.route(ROOM, [ref(1), ref(2)], NOW)).unknown).toEqual([ref(1), ref(2)]);
    expect(await routes.lookup(ref(1), OTHER_ROOM, NOW)).toMatchObject({ provider: C });
  });

  it('forgets a route once its Welcome went out', async () => {
    await routes.record([{ ref: ref(1), route: route(C) }]);
    await routes.forget([ref(1)]);
    expect(await routes.lookup(ref(1), ROOM, NOW)).toBeUndefined();
  });
});
