/** room-policy-03 §5: the `base_room_policy` component (`BaseRoomPolicy`) and its codec. */
import { CodecError, ValidationError } from '../../common/errors';
import { TlsReader, writeTls } from '../../codec/tls-codec';
import { readBool, readUri, writeBool, writeUri } from './primitives';

/** `BaseRoomPolicy` (room-policy-03 §5; the draft spells the second field `parent_dependant`). */
export interface BaseRoomPolicy {
  readonly fixedMembership: boolean;
  readonly parentDependent: boolean;
  /** `Uri parent_room<V>`: a vector of Uri, empty unless parent_dependent (one parent). */
  readonly parentRoom: readonly string[];
  readonly multiDevice: boolean;
  readonly maxClients?: number;
  readonly maxUsers?: number;
  readonly pseudonymsAllowed: boolean;
  readonly persistentRoom: boolean;
  readonly discoverable: boolean;
  /** `Component policy_component_ids<V>`: the other policy components of the room (uint16 IDs). */
  readonly policyComponentIds: readonly number[];
}

function problemOf(p: BaseRoomPolicy): string | undefined {
  if (p.parentDependent !== p.parentRoom.length > 0) {
    return 'parent_room is set exactly when parent_dependent is true';
  }
  for (const n of [p.maxClients, p.maxUsers]) {
    if (n !== undefined && !(Number.isInteger(n) && n >= 0 && n <= 0xffffffff)) return `${n} is not a uint32`;
  }
  for (const id of p.policyComponentIds) {
    if (!Number.isInteger(id) || id < 0 || id > 0xffff) return `component ID ${id} is not a uint16`;
  }
  if (new Set(p.policyComponentIds).size !== p.policyComponentIds.length) return 'a policy component ID appears twice';
  return undefined;
}

/** @throws ValidationError when parent_room and parent_dependent disagree or a number is out of range. */
export function encodeBaseRoomPolicy(p: BaseRoomPolicy): Uint8Array {
  const problem = problemOf(p);
  if (problem !== undefined) throw new ValidationError(`base_room_policy: ${problem}`);
  return writeTls((w) => {
    writeBool(w, p.fixedMembership);
    writeBool(w, p.parentDependent);
    w.vector(p.parentRoom, writeUri);
    writeBool(w, p.multiDevice);
    w.optional(p.maxClients, (v, n) => v.uint32(n));
    w.optional(p.maxUsers, (v, n) => v.uint32(n));
    writeBool(w, p.pseudonymsAllowed);
    writeBool(w, p.persistentRoom);
    writeBool(w, p.discoverable);
    w.vector(p.policyComponentIds, (v, id) => v.uint16(id));
  });
}

/** @throws CodecError on malformed bytes or a policy `encodeBaseRoomPolicy` would refuse. */
export function decodeBaseRoomPolicy(bytes: Uint8Array): BaseRoomPolicy {
  const r = new TlsReader(bytes, 'BaseRoomPolicy');
  const fixedMembership = r.field('fixed_membership', readBool);
  const parentDependent = r.field('parent_dependant', readBool);
  const parentRoom = r.field('parent_room', (x) => x.vector(readUri));
  const multiDevice = r.field('multi_device', readBool);
  const maxClients = r.field('max_clients', (x) => x.optional((c) => c.uint32()));
  const maxUsers = r.field('max_users', (x) => x.optional((c) => c.uint32()));
  const pseudonymsAllowed = r.field('pseudonyms_allowed', readBool);
  const persistentRoom = r.field('persistent_room', readBool);
  const discoverable = r.field('discoverable', readBool);
  const policyComponentIds = r.field('policy_component_ids', (x) => x.vector((c) => c.uint16()));
  r.done();
  const policy: BaseRoomPolicy = {
    fixedMembership,
    parentDependent,
    parentRoom,
    multiDevice,
    ...(maxClients !== undefined ? { maxClients } : {}),
    ...(maxUsers !== undefined ? { maxUsers } : {}),
    pseudonymsAllowed,
    persistentRoom,
    discoverable,
    policyComponentIds,
  };
  const problem = problemOf(policy);
  if (problem !== undefined) throw new CodecError(`BaseRoomPolicy: ${problem}`);
  return policy;
}
