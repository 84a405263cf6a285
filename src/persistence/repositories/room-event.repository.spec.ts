import type { RoomUri } from '../../common/ids';
import { FakeClock } from '../../../test/support/fake-clock';
import { CLOCK_START } from '../../../test/support/outbox-fixtures';
import { TestDataSource, createTestDataSource } from '../../../test/support/test-data-source';
import { TransactionRunner } from '../transaction-runner';
import { RoomEventRepository } from './room-event.repository';

const ROOM = 'mimi://a.example/r/one' as RoomUri;
const OTHER_ROOM = 'mimi://a.example/r/two' as RoomUri;

describe('RoomEventRepository.platformEventIds (SQLite)', () => {
  let dataSource: TestDataSource;
  let transactions: TransactionRunner;
  let clock: FakeClock;
  let events: RoomEventRepository;

  beforeEach(async () => {
    dataSource = await createTestDataSource('sqlite');
    transactions = new TransactionRunner(dataSource);
    clock = new FakeClock(CLOCK_START);
    events = new RoomEventRepository(transactions, clock);
  });
  afterEach(async () => dataSource.destroy());

  async function record(roomUri: RoomUri, platform: string, platformEventId: string, messageId: string | null) {
    clock.advance(1);
    await transactions.run((tx) => events.recordLegacyEvent(tx, { platform, platformEventId, roomUri, messageId }));
  }

  it("maps each message of the room to the platform ID findPlatformEventId gives, and nothing else's", async () => {
    await record(ROOM, 'matrix', '$first-of-m1', 'm1');
    await record(ROOM, 'matrix', '$second-of-m1', 'm1');
    await record(ROOM, 'matrix', '$m2', 'm2');
    await record(ROOM, 'matrix', '$no-message', null);
    await record(ROOM, 'xmpp', 'xmpp-m3', 'm3');
    await record(OTHER_ROOM, 'matrix', '$m4', 'm4');

    const ids = await events.platformEventIds(undefined, ROOM, 'matrix');

    expect([...ids]).toEqual([
      ['m1', '$first-of-m1'],
      ['m2', '$m2'],
    ]);
    for (const [messageId, platformEventId] of ids) {
      expect(await events.findPlatformEventId(undefined, ROOM, 'matrix', messageId)).toBe(platformEventId);
    }
  });
});
