import { Test } from '@nestjs/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigModule } from '../config/config.module';
import { validateConfig } from '../config/load-config';
import { PersistenceModule } from '../persistence/persistence.module';
import { TransactionRunner } from '../persistence/transaction-runner';
import { SystemClock } from '../common/clock';
import { FOLLOWER_A, ROOM_ONE, bodyFor } from '../../test/support/outbox-fixtures';
import { ScriptedDeliveryTarget } from '../../test/support/scripted-delivery-target';
import { OutboxService } from './outbox.service';
import { OutboxWorker } from './outbox.worker';
import { ReplicationModule } from './replication.module';

describe(ReplicationModule.name, () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'mimi-replication-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('wires the outbox to the composition root’s DeliveryTarget on a migrated database', async () => {
    const config = validateConfig(
      { provider: { domain: 'gw.test' }, logging: { level: 'error' } },
      { baseDir: dir, env: {} },
    );
    const target = new ScriptedDeliveryTarget(new SystemClock());
    const moduleRef = await Test.createTestingModule({
      imports: [
        ConfigModule.forRoot(config),
        PersistenceModule.forRoot(),
        ReplicationModule.forRoot({ deliveryTarget: { useValue: target }, worker: { autoStart: false } }),
      ],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    try {
      await app.get(TransactionRunner).run((tx) =>
        app.get(OutboxService).enqueue(tx, {
          destination: FOLLOWER_A,
          roomUri: ROOM_ONE,
          endpoint: 'notify',
          body: bodyFor(FOLLOWER_A, ROOM_ONE, 1),
          idempotencyKey: 'wiring-1',
        }),
      );
      await app.get(OutboxWorker).drainUntilIdle();

      expect(target.attempts.map((a) => a.destination)).toEqual([FOLLOWER_A]);
    } finally {
      await app.close();
    }
  });
});
