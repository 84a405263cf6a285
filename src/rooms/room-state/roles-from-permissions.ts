/**
 * The MIMI `roles_list` (room-policy-03 §3) of a bridged room, generated from the platform's own
 * model as the bridge reports it (`RoomPermissions`: Matrix power levels, XEP-0045 affiliations
 * and roles). Role indices are the gateway's fixed role set (`roleIndexOf`, room-policy.ts):
 *
 *   0 not a participant · 1 banned · 2 visitor · 3 member · 4 moderator · 5 admin · 6 owner
 *
 * What each role may do (its capabilities and `authorized_role_changes`) is the platform's.
 */
import { BANNED_ROLE_NAME, Capability, type Role, type RoleChangeTargets } from '../../mimi/room-state';
import { type JoinRule, ParticipantRole, type RoomAction, type RoomPermissions } from '../../ports';

/** The ParticipantRoles in role-index order (index = position + 1). */
const ROLE_ORDER: readonly ParticipantRole[] = [
  ParticipantRole.Banned,
  ParticipantRole.Visitor,
  ParticipantRole.Member,
  ParticipantRole.Moderator,
  ParticipantRole.Admin,
  ParticipantRole.Owner,
];

export function roleIndexOf(role: ParticipantRole): number {
  return ROLE_ORDER.indexOf(role) + 1;
}

/** The role of a `role_index`; unknown indices count as visitors (least privilege but banned). */
export function roleOfIndex(index: number): ParticipantRole {
  return ROLE_ORDER[index - 1] ?? ParticipantRole.Visitor;
}

const NONE = 0;
const BANNED = roleIndexOf(ParticipantRole.Banned);
const VISITOR = roleIndexOf(ParticipantRole.Visitor);
const MEMBER = roleIndexOf(ParticipantRole.Member);

/**
 * The permissions of a room whose bridge reports none: members post and invite, moderators and
 * above kick, ban, redact, change roles (up to their own) and the room's name, topic and avatar;
 * admins open or close the room.
 */
export const DEFAULT_ROOM_PERMISSIONS: RoomPermissions = {
  minimumRole: {
    send: ParticipantRole.Member,
    invite: ParticipantRole.Member,
    kick: ParticipantRole.Moderator,
    ban: ParticipantRole.Moderator,
    redact: ParticipantRole.Moderator,
    changeName: ParticipantRole.Moderator,
    changeTopic: ParticipantRole.Moderator,
    changeAvatar: ParticipantRole.Moderator,
    changeRoles: ParticipantRole.Moderator,
    changeJoinRule: ParticipantRole.Admin,
  },
};

/** Capabilities every participant that is not banned holds (room-policy-03 §8.1, §8.3). */
const PARTICIPANT_CAPABILITIES: readonly Capability[] = [
  Capability.canReceiveMessage,
  Capability.canRemoveSelf,
  Capability.canAddOwnClient,
  Capability.canCopyMessage,
  Capability.canFollowLink,
  Capability.canDownloadImage,
  Capability.canDownloadAudio,
  Capability.canDownloadVideo,
  Capability.canDownloadAttachment,
];

/** The capabilities (room-policy-03 §8) a platform action grants. */
const ACTION_CAPABILITIES: Readonly<Record<RoomAction, readonly Capability[]>> = {
  send: [
    Capability.canSendMessage,
    Capability.canReplyToMessage,
    Capability.canReactToMessage,
    Capability.canEditReaction,
    Capability.canDeleteOwnReaction,
    Capability.canEditOwnMessage,
    Capability.canDeleteOwnMessage,
    Capability.canSendLink,
    Capability.canUploadImage,
    Capability.canUploadAudio,
    Capability.canUploadVideo,
    Capability.canUploadAttachment,
  ],
  invite: [Capability.canAddParticipant],
  kick: [Capability.canRemoveParticipant, Capability.canKick],
  ban: [Capability.canBan, Capability.canUnBan],
  redact: [Capability.canDeleteOtherMessage, Capability.canDeleteOtherReaction],
  changeName: [Capability.canChangeRoomName],
  changeTopic: [Capability.canChangeRoomDescription, Capability.canChangeRoomSubject],
  changeAvatar: [Capability.canChangeRoomAvatar],
  changeRoles: [Capability.canChangeUserRole],
  changeJoinRule: [Capability.canChangeRoomMembershipStyle],
};

const ROLE_DESCRIPTIONS: Readonly<Record<ParticipantRole, string>> = {
  [ParticipantRole.Banned]: 'may not take part (room-policy-03 §8.1.3)',
  [ParticipantRole.Visitor]: 'reads the room but may not post',
  [ParticipantRole.Member]: 'a regular participant',
  [ParticipantRole.Moderator]: 'moderates the room',
  [ParticipantRole.Admin]: 'administers the room',
  [ParticipantRole.Owner]: 'owns the room',
};

function allowed(permissions: RoomPermissions, action: RoomAction, roleIndex: number): boolean {
  const least = permissions.minimumRole[action];
  return least !== undefined && least !== ParticipantRole.Banned && roleIndex >= roleIndexOf(least);
}

const range = (from: number, to: number): number[] => {
  const out: number[] = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
};

/** A role's `authorized_role_changes`, from what it may do on the platform. */
function roleChanges(permissions: RoomPermissions, roleIndex: number): RoleChangeTargets[] {
  const changes = new Map<number, Set<number>>();
  const allow = (from: number, to: number): void => {
    if (from === to) return;
    const set = changes.get(from) ?? new Set<number>();
    set.add(to);
    changes.set(from, set);
  };
  const lower = range(VISITOR, roleIndex - 1); // participants whose role is below this one
  allow(roleIndex, NONE); // canRemoveSelf (room-policy-03 §8.1.2)
  if (allowed(permissions, 'invite', roleIndex)) {
    for (const to of range(VISITOR, Math.min(MEMBER, roleIndex))) allow(NONE, to); // canAddParticipant
  }
  if (allowed(permissions, 'kick', roleIndex)) for (const from of lower) allow(from, NONE);
  if (allowed(permissions, 'ban', roleIndex)) {
    for (const from of [NONE, ...lower]) allow(from, BANNED);
    allow(BANNED, NONE); // unban: the entry leaves the list
  }
  if (allowed(permissions, 'changeRoles', roleIndex)) {
    const grant = permissions.highestGrant?.[roleOfIndex(roleIndex)];
    const highest = Math.min(roleIndex, grant === undefined ? roleIndex : roleIndexOf(grant));
    for (const from of lower) for (const to of range(VISITOR, highest)) allow(from, to);
  }
  return [...changes.entries()]
    .sort(([a], [b]) => a - b)
    .map(([fromRoleIndex, targets]) => ({ fromRoleIndex, targetRoleIndexes: [...targets].sort((a, b) => a - b) }));
}

function participantRole(permissions: RoomPermissions, role: ParticipantRole): Role {
  const roleIndex = roleIndexOf(role);
  const capabilities = new Set<Capability>(PARTICIPANT_CAPABILITIES);
  for (const action of Object.keys(ACTION_CAPABILITIES) as RoomAction[]) {
    if (allowed(permissions, action, roleIndex)) for (const c of ACTION_CAPABILITIES[action]) capabilities.add(c);
  }
  return {
    roleIndex,
    roleName: role,
    roleDescription: ROLE_DESCRIPTIONS[role],
    capabilities: [...capabilities].sort((a, b) => a - b),
    minimumParticipants: 0,
    minimumActiveParticipants: 0,
    authorizedRoleChanges: roleChanges(permissions, roleIndex),
  };
}

/**
 * The roles_list of a room with these permissions. An open room (`public`) also lists role 0 with
 * canOpenJoin and the change 0 → member (room-policy-03 §8.1.1): anyone not banned may join.
 */
export function rolesListFor(permissions: RoomPermissions, joinRule: JoinRule): Role[] {
  const banned: Role = {
    roleIndex: BANNED,
    roleName: BANNED_ROLE_NAME,
    roleDescription: ROLE_DESCRIPTIONS[ParticipantRole.Banned],
    capabilities: [],
    minimumParticipants: 0,
    minimumActiveParticipants: 0,
    maximumActiveParticipants: 0,
    authorizedRoleChanges: [],
  };
  const roles = [banned, ...ROLE_ORDER.slice(1).map((r) => participantRole(permissions, r))];
  if (joinRule !== 'public') return roles;
  const open: Role = {
    roleIndex: NONE,
    roleName: 'none',
    roleDescription: 'not a participant; may join this open room',
    capabilities: [Capability.canOpenJoin],
    minimumParticipants: 0,
    minimumActiveParticipants: 0,
    authorizedRoleChanges: [{ fromRoleIndex: NONE, targetRoleIndexes: [MEMBER] }],
  };
  return [open, ...roles];
}
