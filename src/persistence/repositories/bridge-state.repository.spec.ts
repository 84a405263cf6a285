import { FakeClock } from '../../../test/support/fake-clock';
import { CLOCK_START } from '../../../test/support/outbox-fixtures';
import { DATABASE_KINDS, TestDataSource, createTestDataSource } from '../../../test/support/test-data-source';
import { TransactionRunner } from '../transaction-runner';
import { BridgeStateRepository } from './bridge-state.repository';

describe.each(DATABASE_KINDS)('BridgeStateRepository on %s', (kind) => {
  let dataSource: TestDataSource;
  let repo: BridgeStateRepository;

  beforeEach(async () => {
    dataSource = await createTestDataSource(kind);
    repo = new BridgeStateRepository(new TransactionRunner(dataSource), new FakeClock(CLOCK_START));
  });
  afterEach(async () => dataSource.destroy());

  it('keeps each platform its own entries: upsert, replace, delete', async () => {
    const xmpp = repo.storeFor('xmpp');
    await xmpp.save(
      new Map([
        ['room:a@muc', '{"x":1}'],
        ['room:b@muc', '{"ü":"🎉"}'],
      ]),
      [],
    );
    await repo.storeFor('other').save(new Map([['room:a@muc', 'other']]), []);
    await xmpp.save(new Map([['room:a@muc', '{"x":2}']]), ['room:b@muc']);

    expect(await xmpp.load()).toEqual(new Map([['room:a@muc', '{"x":2}']]));
    expect(await repo.load(undefined, 'other')).toEqual(new Map([['room:a@muc', 'other']]));
  });

  it('holds a large value (a room with thousands of recent posts)', async () => {
    const big = JSON.stringify({ posted: Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`id-${i}`, i])) });
    await repo.storeFor('xmpp').save(new Map([['room:big@muc', big]]), []);
    expect((await repo.storeFor('xmpp').load()).get('room:big@muc')).toBe(big);
  });
});
