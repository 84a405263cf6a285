import { IsBoolean, IsIn, IsOptional, IsString } from 'class-validator';
import { IntRange } from '../common/config-schema';

/**
 * The `cluster` section: several gateway processes on one PostgreSQL database (scale-out,
 * src/rooms/ownership/README.md). Off by default; SQLite means one process and ignores it.
 */
export class ClusterConfig {
  /** Share rooms with other processes on the same PostgreSQL database, each room owned by one at a time. */
  @IsBoolean({ message: 'true or false' })
  enabled: boolean = false;

  /** This process's name in the lease table (default: host name, process ID and a random suffix). */
  @IsOptional()
  @IsString({ message: 'a name for this process' })
  processName?: string;

  /**
   * How long a room's lease lasts without renewal: a process that dies loses its rooms to the
   * others within this time (they are renewed every third of it).
   */
  @IntRange(1000, 600_000, 'milliseconds')
  leaseTtlMs: number = 15_000;

  /**
   * Which processes take the platforms' traffic (start the bridges) and serve rooms:
   * `lease` (default): one process at a time, the holder of the ingress lease, runs the bridges
   * (the appservice listener, the XMPP component connection) and serves every room; the others
   * stand by (they deliver the outbox) and one takes over within `leaseTtlMs` when it dies.
   * `every`: every process runs its bridges and serves the rooms it takes first; for platforms
   * that deliver a room's events to the process owning it (docs/SCALE-OUT.md).
   */
  @IsIn(['lease', 'every'], { message: "'lease' (one process takes the platforms' traffic) or 'every'" })
  ingress: 'lease' | 'every' = 'lease';

  /** A room nobody used for this long is released, so that another process may take it. */
  @IntRange(1000, 86_400_000, 'milliseconds')
  idleReleaseMs: number = 600_000;
}
