/**
 * Idle rooms cost no memory (issue 12): every quarter of `mls.idleUnloadSeconds` the MLS groups
 * and puppet identities not used for that long are unloaded (`GroupStore.unloadIdle`); the next
 * message in such a room reads them back from the database. The size caps of the caches apply as
 * well. Idle times are measured on the injected Clock, so tests move a fake clock and call `sweep`.
 */
import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit, Optional } from '@nestjs/common';
import { type Counter, MetricsRegistry } from '../common/metrics';
import { GatewayConfig } from '../config/gateway-config';
import { MlsGroups } from './mls-groups';

/** Sweeps per idle time: a group is unloaded at most a quarter of it late. */
const SWEEPS_PER_IDLE_TIME = 4;

@Injectable()
export class IdleUnload implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(IdleUnload.name);
  private readonly idleMs: number;
  private readonly unloaded?: Counter;
  private timer?: NodeJS.Timeout;

  constructor(
    config: GatewayConfig,
    private readonly groups: MlsGroups,
    @Optional() metrics?: MetricsRegistry,
  ) {
    this.idleMs = config.mls.idleUnloadSeconds * 1000;
    this.unloaded = metrics?.counter(
      'mimi_mls_idle_unloaded_total',
      'MLS groups (kind=group) and puppet identities (kind=identity) unloaded from memory for being idle',
    );
  }

  onModuleInit(): void {
    if (this.idleMs === 0) return;
    this.timer = setInterval(() => this.sweep(), Math.max(1000, Math.floor(this.idleMs / SWEEPS_PER_IDLE_TIME)));
    this.timer.unref();
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Unload what was idle for `mls.idleUnloadSeconds` (nothing when that is 0). */
  sweep(): { groups: number; identities: number } {
    if (this.idleMs === 0) return { groups: 0, identities: 0 };
    const done = this.groups.store.unloadIdle(this.idleMs);
    this.unloaded?.inc({ kind: 'group' }, done.groups);
    this.unloaded?.inc({ kind: 'identity' }, done.identities);
    if (done.groups + done.identities > 0) {
      this.logger.debug(`unloaded ${done.groups} idle MLS group(s) and ${done.identities} identity(ies)`);
    }
    return done;
  }
}
