/**
 * Crash points: places inside the gateway where a fault test can make the process die on the spot
 * (SIGKILL to itself: no shutdown hook, no flush), to show that what was committed before is enough
 * to recover without loss or duplicates. Test-only: armed by the environment variable
 * `MIMI_GATEWAY_CRASH_POINT=<name>[:<n>]` (die at the n-th time the point is reached, default the
 * first), read once when this module loads.
 *
 * Production cost: when the variable is not set (always, outside tests), `crashPoint()` is one
 * check of a module-level constant (`ARMED === undefined`) and returns; nothing else runs.
 *
 * The points (RELIABILITY T05/T06/T16):
 * - `before-store`: an inbound platform event reached the core (BridgeSinkService) and nothing of
 *   it is recorded yet (the platform has no acknowledgement and must deliver it again);
 * - `after-store-before-ack`: an inbound platform event is recorded (BridgeSinkService) and the
 *   bridge has not yet acknowledged it to the platform (the homeserver will redeliver the
 *   transaction, the XMPP bridge replays from MAM/its journal);
 * - `after-send-before-mark-delivered`: a peer answered 2xx to an outbox delivery and the row is
 *   not yet marked delivered (the row is sent again after the restart; the peer must dedupe it).
 */
export const CRASH_POINT_ENV = 'MIMI_GATEWAY_CRASH_POINT';

export const CRASH_POINTS = ['before-store', 'after-store-before-ack', 'after-send-before-mark-delivered'] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

/** A parsed `MIMI_GATEWAY_CRASH_POINT`: which point, and at which hit (1-based) to die. */
export interface ArmedCrashPoint {
  readonly point: CrashPoint;
  readonly atHit: number;
}

/**
 * Parse the variable's value (undefined/empty: not armed).
 * @throws Error on an unknown point name or a bad hit count, so that a typo in a test fails loudly.
 */
export function parseCrashPoint(value: string | undefined): ArmedCrashPoint | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const [name, nth] = value.trim().split(':');
  const point = CRASH_POINTS.find((p) => p === name);
  if (point === undefined) {
    throw new Error(`${CRASH_POINT_ENV}=${value}: unknown crash point (one of ${CRASH_POINTS.join(', ')})`);
  }
  const atHit = nth === undefined ? 1 : Number(nth);
  if (!Number.isInteger(atHit) || atHit < 1) {
    throw new Error(`${CRASH_POINT_ENV}=${value}: the hit count after ':' must be a positive integer`);
  }
  return { point, atHit };
}

const ARMED: ArmedCrashPoint | undefined = parseCrashPoint(process.env[CRASH_POINT_ENV]);
let hits = 0;

/** Die here (SIGKILL to ourselves) when this point is the armed one and its hit count is reached. */
export function crashPoint(point: CrashPoint): void {
  if (ARMED === undefined) return;
  if (ARMED.point !== point) return;
  hits += 1;
  if (hits < ARMED.atHit) return;
  process.stderr.write(`MIMI-CRASH-POINT ${point} (hit ${hits}): SIGKILL\n`);
  process.kill(process.pid, 'SIGKILL');
}
