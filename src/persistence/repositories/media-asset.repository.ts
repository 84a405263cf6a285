import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, Clock } from '../../common/clock';
import { TransactionRunner, Tx, sqlOf } from '../transaction-runner';

/** An attachment this gateway serves: where its bytes are on our platform, and the room it belongs to. */
export interface MediaAssetRecord {
  readonly assetId: string;
  readonly roomUri: string;
  readonly platform: string;
  /** The URL the bridge reported (only that bridge fetches it, and only from its own media store). */
  readonly sourceUrl: string;
  readonly contentType: string;
}

/**
 * `media_asset` (migration 1796200000000): the asset IDs we minted for attachments posted in our
 * rooms (src/rooms/media-assets.ts). Every method takes the caller's transaction, or runs in one
 * of its own when `tx` is undefined.
 */
@Injectable()
export class MediaAssetRepository {
  constructor(
    private readonly transactions: TransactionRunner,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async insert(tx: Tx | undefined, asset: MediaAssetRecord): Promise<void> {
    if (tx === undefined) return this.transactions.run((own) => this.insert(own, asset));
    await sqlOf(tx).query(
      `INSERT INTO media_asset (asset_id, room_uri, platform, source_url, content_type, created_at)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [asset.assetId, asset.roomUri, asset.platform, asset.sourceUrl, asset.contentType, this.clock.now()],
    );
  }

  /** Insert `asset` unless its ID is already there (an ID derived from its source, minted twice). */
  async insertIfAbsent(tx: Tx | undefined, asset: MediaAssetRecord): Promise<void> {
    if (tx === undefined) return this.transactions.run((own) => this.insertIfAbsent(own, asset));
    await sqlOf(tx).query(
      `INSERT INTO media_asset (asset_id, room_uri, platform, source_url, content_type, created_at)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (asset_id) DO NOTHING`,
      [asset.assetId, asset.roomUri, asset.platform, asset.sourceUrl, asset.contentType, this.clock.now()],
    );
  }

  async find(tx: Tx | undefined, assetId: string): Promise<MediaAssetRecord | undefined> {
    if (tx === undefined) return this.transactions.run((own) => this.find(own, assetId));
    const result = await sqlOf(tx).query(
      `SELECT asset_id, room_uri, platform, source_url, content_type FROM media_asset WHERE asset_id = $1`,
      [assetId],
    );
    const row = result.rows[0];
    return row === undefined
      ? undefined
      : {
          assetId: String(row.asset_id),
          roomUri: String(row.room_uri),
          platform: String(row.platform),
          sourceUrl: String(row.source_url),
          contentType: String(row.content_type),
        };
  }
}
