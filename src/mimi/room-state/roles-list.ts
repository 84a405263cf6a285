/**
 * room-policy-03 §3 "Role-Based Access Control": the `roles_list` component (`RoleData`), its
 * codec and the questions the hub asks of it (what a role may do, which role changes it may make).
 */
import { CodecError, ValidationError } from '../../common/errors';
import { TlsReader, type TlsWriter, writeTls } from '../../codec/tls-codec';
import { Capability } from './component-ids';

/** `SingleSourceRoleChangeTargets`: from one role to any of several roles (0 = out of the list). */
export interface RoleChangeTargets {
  readonly fromRoleIndex: number;
  readonly targetRoleIndexes: readonly number[];
}

/** `Role` (room-policy-03 §3). */
export interface Role {
  readonly roleIndex: number;
  readonly roleName: string;
  readonly roleDescription: string;
  /** `CapabilityType role_capabilities<V>` (room-policy-03 §10.2 values). */
  readonly capabilities: readonly number[];
  readonly minimumParticipants: number;
  readonly maximumParticipants?: number;
  readonly minimumActiveParticipants: number;
  readonly maximumActiveParticipants?: number;
  readonly authorizedRoleChanges: readonly RoleChangeTargets[];
}

/** room-policy-03 §8.1.3: role index 1, when present, is named exactly this. */
export const BANNED_ROLE_NAME = 'banned';

const MAX_UINT32 = 0xffffffff;
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** What is wrong with a role list, or undefined. Checked both ways so nothing invalid is written or read. */
function problemOf(roles: readonly Role[]): string | undefined {
  const seen = new Set<number>();
  const uint32 = (n: number | undefined): boolean =>
    n === undefined || (Number.isInteger(n) && n >= 0 && n <= MAX_UINT32);
  for (const role of roles) {
    const where = `role ${role.roleIndex}`;
    if (!uint32(role.roleIndex)) return `role_index ${role.roleIndex} is not a uint32`;
    if (seen.has(role.roleIndex)) return `role_index ${role.roleIndex} appears twice`;
    seen.add(role.roleIndex);
    if (role.roleIndex === 1 && role.roleName !== BANNED_ROLE_NAME) return `role 1 must be named "${BANNED_ROLE_NAME}"`;
    for (const c of role.capabilities) {
      if (!Number.isInteger(c) || c < 0 || c > 0xffff) return `${where}: capability ${c} is not a uint16`;
    }
    if (new Set(role.capabilities).size !== role.capabilities.length) return `${where}: a capability appears twice`;
    if (role.capabilities.includes(Capability.canOpenJoin) && role.roleIndex !== 0) {
      return `${where}: canOpenJoin may appear only on role 0 (room-policy-03 §8.1.1)`;
    }
    const counts = [
      role.minimumParticipants,
      role.maximumParticipants,
      role.minimumActiveParticipants,
      role.maximumActiveParticipants,
    ];
    if (!counts.every(uint32)) return `${where}: a participant constraint is not a uint32`;
    if (role.maximumParticipants !== undefined && role.maximumParticipants < role.minimumParticipants) {
      return `${where}: maximum_participants_constraint is below the minimum`;
    }
    if (
      role.maximumActiveParticipants !== undefined &&
      role.maximumActiveParticipants < role.minimumActiveParticipants
    ) {
      return `${where}: maximum_active_participants_constraint is below the minimum`;
    }
    const froms = new Set<number>();
    for (const change of role.authorizedRoleChanges) {
      if (!uint32(change.fromRoleIndex) || !change.targetRoleIndexes.every(uint32)) {
        return `${where}: authorized_role_changes holds a role index that is not a uint32`;
      }
      if (froms.has(change.fromRoleIndex)) return `${where}: two authorized_role_changes from ${change.fromRoleIndex}`;
      froms.add(change.fromRoleIndex);
    }
  }
  return undefined;
}

function writeRole(w: TlsWriter, role: Role): void {
  w.uint32(role.roleIndex);
  w.opaque(utf8.encode(role.roleName));
  w.opaque(utf8.encode(role.roleDescription));
  w.vector(role.capabilities, (v, c) => v.uint16(c));
  w.uint32(role.minimumParticipants);
  w.optional(role.maximumParticipants, (v, n) => v.uint32(n));
  w.uint32(role.minimumActiveParticipants);
  w.optional(role.maximumActiveParticipants, (v, n) => v.uint32(n));
  w.vector(role.authorizedRoleChanges, (v, c) => {
    v.uint32(c.fromRoleIndex);
    v.vector(c.targetRoleIndexes, (t, i) => t.uint32(i));
  });
}

function text(r: TlsReader, name: string): string {
  return r.field(name, (x) => {
    const at = x.offset;
    try {
      return utf8Strict.decode(x.opaque());
    } catch {
      return x.fail('not valid UTF-8', at);
    }
  });
}

function readRole(r: TlsReader): Role {
  const roleIndex = r.field('role_index', (x) => x.uint32());
  const roleName = text(r, 'role_name');
  const roleDescription = text(r, 'role_description');
  const capabilities = r.field('role_capabilities', (x) => x.vector((c) => c.uint16()));
  const minimumParticipants = r.field('minimum_participants_constraint', (x) => x.uint32());
  const maximumParticipants = r.field('maximum_participants_constraint', (x) => x.optional((c) => c.uint32()));
  const minimumActiveParticipants = r.field('minimum_active_participants_constraint', (x) => x.uint32());
  const maximumActiveParticipants = r.field('maximum_active_participants_constraint', (x) =>
    x.optional((c) => c.uint32()),
  );
  const authorizedRoleChanges = r.field('authorized_role_changes', (x) =>
    x.vector((c) => ({
      fromRoleIndex: c.uint32(),
      targetRoleIndexes: c.vector((t) => t.uint32()),
    })),
  );
  return {
    roleIndex,
    roleName,
    roleDescription,
    capabilities,
    minimumParticipants,
    ...(maximumParticipants !== undefined ? { maximumParticipants } : {}),
    minimumActiveParticipants,
    ...(maximumActiveParticipants !== undefined ? { maximumActiveParticipants } : {}),
    authorizedRoleChanges,
  };
}

/**
 * Encode `RoleData { Role roles<V>; }` (also the `RoleUpdate` of an AppDataUpdate).
 * @throws ValidationError on a duplicate role index, a role 1 not named "banned", canOpenJoin off
 *   role 0, duplicate capabilities or from-indexes, or a maximum below its minimum.
 */
export function encodeRolesList(roles: readonly Role[]): Uint8Array {
  const problem = problemOf(roles);
  if (problem !== undefined) throw new ValidationError(`roles_list: ${problem}`);
  return writeTls((w) => w.vector(roles, writeRole));
}

/**
 * Decode `RoleData`.
 * @throws CodecError on malformed bytes or a list `encodeRolesList` would refuse.
 */
export function decodeRolesList(bytes: Uint8Array): Role[] {
  const r = new TlsReader(bytes, 'RoleData');
  const roles = r.field('roles', (x) => x.vector(readRole));
  r.done();
  const problem = problemOf(roles);
  if (problem !== undefined) throw new CodecError(`RoleData: ${problem}`);
  return roles;
}

/** The role with `roleIndex`, if the list has one. */
export function roleAt(roles: readonly Role[], roleIndex: number): Role | undefined {
  return roles.find((r) => r.roleIndex === roleIndex);
}

/** Whether the role `roleIndex` holds `capability` (a role missing from the list holds none). */
export function roleHas(roles: readonly Role[], roleIndex: number, capability: Capability): boolean {
  return roleAt(roles, roleIndex)?.capabilities.includes(capability) ?? false;
}

/** Whether the role `roleIndex` may move a participant from role `from` to role `to` (0 = out of the list). */
export function roleMayChange(roles: readonly Role[], roleIndex: number, from: number, to: number): boolean {
  const entry = roleAt(roles, roleIndex)?.authorizedRoleChanges.find((c) => c.fromRoleIndex === from);
  return entry?.targetRoleIndexes.includes(to) ?? false;
}
