import { FakeClock } from '../../../test/support/fake-clock';
import { CLOCK_START } from '../../../test/support/outbox-fixtures';
import { DATABASE_KINDS, TestDataSource, createTestDataSource } from '../../../test/support/test-data-source';
import { TransactionRunner } from '../transaction-runner';
import { MediaAssetRepository } from './media-asset.repository';

describe.each(DATABASE_KINDS)('MediaAssetRepository on %s', (kind) => {
  let dataSource: TestDataSource;
  let repo: MediaAssetRepository;

  beforeEach(async () => {
    dataSource = await createTestDataSource(kind);
    repo = new MediaAssetRepository(new TransactionRunner(dataSource), new FakeClock(CLOCK_START));
  });
  afterEach(async () => dataSource.destroy());

  it('finds an asset by the ID it was minted with, and nothing for another ID', async () => {
    const asset = {
      assetId: 'a'.repeat(43),
      roomUri: 'mimi://a.example/r/ünïcode',
      platform: 'matrix',
      sourceUrl: 'http://127.0.0.1:8008/_matrix/client/v1/media/download/hs/abc',
      contentType: 'image/png',
    };
    await repo.insert(undefined, asset);
    expect(await repo.find(undefined, asset.assetId)).toEqual(asset);
    expect(await repo.find(undefined, 'b'.repeat(43))).toBeUndefined();
  });

  it('refuses a second asset with the same ID', async () => {
    const asset = {
      assetId: 'x',
      roomUri: 'mimi://a/r/1',
      platform: 'xmpp',
      sourceUrl: 'u',
      contentType: 'text/plain',
    };
    await repo.insert(undefined, asset);
    await expect(repo.insert(undefined, asset)).rejects.toThrow();
  });
});
