import { EntitySchema } from 'typeorm';
import { BIGINT_AS_NUMBER } from './column-types';

/**
 * A bridge's durable state, as key/value text (the XMPP bridge: one row per linked MUC with its
 * archive cursor, puppets, recent posts and reaction ledgers, as JSON). Kept in the core's
 * database so that one store holds everything that must survive a crash.
 */
export interface BridgeStateRecord {
  /** The bridge (`xmpp`). */
  platform: string;
  key: string;
  /** What the bridge wrote (JSON text). */
  value: string;
  updatedAt: number;
}

export const BRIDGE_STATE = 'BridgeState';

export function bridgeStateEntity(): EntitySchema<BridgeStateRecord> {
  const pk = { primary: true, primaryKeyConstraintName: 'pk_bridge_state' } as const;
  return new EntitySchema<BridgeStateRecord>({
    name: BRIDGE_STATE,
    tableName: 'bridge_state',
    columns: {
      platform: { name: 'platform', type: 'varchar', length: 32, ...pk },
      key: { name: 'key', type: 'varchar', length: 1024, ...pk },
      value: { name: 'value', type: 'text' },
      updatedAt: { name: 'updated_at', type: 'bigint', transformer: BIGINT_AS_NUMBER },
    },
  });
}
