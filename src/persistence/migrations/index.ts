import type { MigrationInterface } from 'typeorm';
import { CreateOutbox1795719054622 } from './1795719054622-CreateOutbox';
import { CreateRooms1795800000000 } from './1795800000000-CreateRooms';
import { AddOutboxBatch1795900000000 } from './1795900000000-AddOutboxBatch';
import { CreateBridgeState1796000000000 } from './1796000000000-CreateBridgeState';
import { CreateRoomLease1796100000000 } from './1796100000000-CreateRoomLease';
import { CreateMediaAsset1796200000000 } from './1796200000000-CreateMediaAsset';
import { MlsKvPrefixIndex1796300000000 } from './1796300000000-MlsKvPrefixIndex';

/**
 * Every migration, oldest first. Append new ones; never edit one that has been merged (STYLE §8).
 */
export const MIGRATIONS: (new () => MigrationInterface)[] = [
  CreateOutbox1795719054622,
  CreateRooms1795800000000,
  AddOutboxBatch1795900000000,
  CreateBridgeState1796000000000,
  CreateRoomLease1796100000000,
  CreateMediaAsset1796200000000,
  MlsKvPrefixIndex1796300000000,
];
