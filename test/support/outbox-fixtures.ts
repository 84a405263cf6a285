import type { ProviderDomain, RoomUri } from '../../src/common/ids';

/** Named destinations, rooms and bodies for outbox tests. */
export const FOLLOWER_A = 'follower-a.example' as ProviderDomain;
export const FOLLOWER_B = 'follower-b.example' as ProviderDomain;
export const FOLLOWER_C = 'follower-c.example' as ProviderDomain;
export const ROOM_ONE = 'mimi://gw.test/r/one' as RoomUri;
export const ROOM_TWO = 'mimi://gw.test/r/two' as RoomUri;
export const NOTIFY = 'notify';
/** A fixed start for fake clocks (2023-11-14T22:13:20Z). */
export const CLOCK_START = 1_700_000_000_000;
/** Every byte value, NUL and high bytes included: what goes in must come out unchanged. */
export const ALL_BYTE_VALUES = Uint8Array.from({ length: 256 }, (_v, i) => i);

/** A distinct body per (stream, n): its bytes name the message, so a test can tell them apart. */
export function bodyFor(destination: string, roomUri: string, n: number): Uint8Array {
  return Uint8Array.from(Buffer.from(`${destination}|${roomUri}|${n}|\u0000\u00ff`, 'utf8'));
}
