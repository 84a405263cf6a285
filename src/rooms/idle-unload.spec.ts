import { MetricsRegistry } from '../common/metrics';
import { validateConfig } from '../config/load-config';
import { GroupStore, InMemoryMlsStorage } from '../mls';
import { bot, groupIdOf, hubSender, participant } from '../mls/gateway/gateway.fixtures';
import { IdleUnload } from './idle-unload';
import type { MlsGroups } from './mls-groups';

const configWith = (idleUnloadSeconds: number) =>
  validateConfig({ provider: { domain: 'hub.example' }, mls: { idleUnloadSeconds } }, { baseDir: '/', env: {} });

describe('IdleUnload', () => {
  let now: number;
  let store: GroupStore;
  let metrics: MetricsRegistry;

  beforeEach(async () => {
    jest.useFakeTimers();
    now = 1_000_000;
    store = new GroupStore(new InMemoryMlsStorage(), { idleClock: () => now });
    await store.createGroup({
      groupId: groupIdOf('idle'),
      creator: bot(),
      hub: hubSender(),
      participants: [participant(bot())],
    });
    metrics = new MetricsRegistry();
  });

  afterEach(() => jest.useRealTimers());

  const sweeper = (seconds: number) => new IdleUnload(configWith(seconds), { store } as MlsGroups, metrics);

  it('sweeps every quarter of the idle time and unloads what was idle that long', () => {
    const idle = sweeper(60);
    idle.onModuleInit();
    now += 59_000;
    jest.advanceTimersByTime(15_000);
    expect(store.loadedCount).toBe(1);
    now += 1_000;
    jest.advanceTimersByTime(15_000);
    expect(store.loadedCount).toBe(0);
    expect(store.identities.cachedCount).toBe(0);
    idle.onModuleDestroy();
  });

  it('counts what it unloaded', async () => {
    now += 60_000;
    expect(sweeper(60).sweep()).toEqual({ groups: 1, identities: 1 });
    const text = await metrics.render();
    expect(text).toContain('mimi_mls_idle_unloaded_total{kind="group"} 1');
    expect(text).toContain('mimi_mls_idle_unloaded_total{kind="identity"} 1');
  });

  it('unloads nothing with idleUnloadSeconds 0', () => {
    const idle = sweeper(0);
    idle.onModuleInit();
    now += 365 * 24 * 3_600_000;
    jest.advanceTimersByTime(3_600_000);
    expect(idle.sweep()).toEqual({ groups: 0, identities: 0 });
    expect(store.loadedCount).toBe(1);
  });
});
