import type { ProviderDomain, RoomUri } from '../../common/ids';
import {
  Capability,
  RoomStateComponentId,
  decodeRolesList,
  roleAt,
  roleHas,
  roleMayChange,
} from '../../mimi/room-state';
import { APP_DATA_DICTIONARY_EXTENSION_TYPE, encodeAppDataDictionary } from '../../mls';
import { ParticipantRole, type RoomPermissions } from '../../ports';
import { changedComponents, policyComponents, readRoomState, roomStateComponents } from './room-components';
import { DEFAULT_ROOM_PERMISSIONS, roleIndexOf, rolesListFor } from './roles-from-permissions';

const ROOM = {
  domain: 'a.example' as ProviderDomain,
  roomUri: 'mimi://a.example/r/club' as RoomUri,
  platform: 'matrix',
};
const [NONE, BANNED, VISITOR, MEMBER, MODERATOR, ADMIN, OWNER] = [0, 1, 2, 3, 4, 5, 6];

const asExtensions = (components: Parameters<typeof encodeAppDataDictionary>[0]) => [
  { extensionType: APP_DATA_DICTIONARY_EXTENSION_TYPE, extensionData: encodeAppDataDictionary(components) },
];

describe(rolesListFor.name, () => {
  it('lists banned, visitor … owner with the role indices the participant list uses', () => {
    const roles = rolesListFor(DEFAULT_ROOM_PERMISSIONS, 'invite');
    expect(roles.map((r) => [r.roleIndex, r.roleName])).toEqual([
      [BANNED, 'banned'],
      [VISITOR, 'visitor'],
      [MEMBER, 'member'],
      [MODERATOR, 'moderator'],
      [ADMIN, 'admin'],
      [OWNER, 'owner'],
    ]);
    expect(Object.values(ParticipantRole).map(roleIndexOf)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(roleAt(roles, BANNED)).toMatchObject({ capabilities: [], maximumActiveParticipants: 0 });
  });

  it('turns the platform permissions into capabilities and authorized_role_changes', () => {
    // Like a Matrix room with kick at 50, ban at 75 (admins), invite at 50 and role changes for admins.
    const permissions: RoomPermissions = {
      minimumRole: {
        send: ParticipantRole.Member,
        invite: ParticipantRole.Moderator,
        kick: ParticipantRole.Moderator,
        ban: ParticipantRole.Admin,
        changeTopic: ParticipantRole.Member,
        changeRoles: ParticipantRole.Admin,
      },
    };
    const roles = rolesListFor(permissions, 'invite');
    expect(roleHas(roles, VISITOR, Capability.canSendMessage)).toBe(false);
    expect(roleHas(roles, VISITOR, Capability.canReceiveMessage)).toBe(true);
    expect(roleHas(roles, MEMBER, Capability.canSendMessage)).toBe(true);
    expect(roleHas(roles, MEMBER, Capability.canAddParticipant)).toBe(false);
    expect(roleHas(roles, MEMBER, Capability.canChangeRoomDescription)).toBe(true);
    expect(roleHas(roles, MEMBER, Capability.canChangeRoomName)).toBe(false);
    expect(roleHas(roles, MODERATOR, Capability.canAddParticipant)).toBe(true);
    expect(roleHas(roles, MODERATOR, Capability.canKick)).toBe(true);
    expect(roleHas(roles, MODERATOR, Capability.canBan)).toBe(false);
    expect(roleHas(roles, ADMIN, Capability.canBan)).toBe(true);
    // Everyone may leave; members were not given kicks.
    expect(roleMayChange(roles, MEMBER, MEMBER, NONE)).toBe(true);
    expect(roleMayChange(roles, MEMBER, VISITOR, NONE)).toBe(false);
    // A moderator adds as visitor or member, kicks lower roles only.
    expect(roleMayChange(roles, MODERATOR, NONE, MEMBER)).toBe(true);
    expect(roleMayChange(roles, MODERATOR, NONE, MODERATOR)).toBe(false);
    expect(roleMayChange(roles, MODERATOR, MEMBER, NONE)).toBe(true);
    // 4 → 0 is there for leaving (canRemoveSelf); removing a peer is refused by the hierarchy rule (room-policy.ts).
    expect(roleMayChange(roles, MODERATOR, MODERATOR, NONE)).toBe(true);
    expect(roleMayChange(roles, MODERATOR, ADMIN, NONE)).toBe(false);
    // An admin bans non-participants and lower roles, unbans, and gives roles up to its own.
    expect(roleMayChange(roles, ADMIN, NONE, BANNED)).toBe(true);
    expect(roleMayChange(roles, ADMIN, MODERATOR, BANNED)).toBe(true);
    expect(roleMayChange(roles, ADMIN, ADMIN, BANNED)).toBe(false);
    expect(roleMayChange(roles, ADMIN, BANNED, NONE)).toBe(true);
    expect(roleMayChange(roles, ADMIN, MEMBER, ADMIN)).toBe(true);
    expect(roleMayChange(roles, ADMIN, MEMBER, OWNER)).toBe(false);
  });

  it('caps role grants at highestGrant (XEP-0045: admins grant moderator status, not admin)', () => {
    const roles = rolesListFor(
      {
        minimumRole: { changeRoles: ParticipantRole.Moderator },
        highestGrant: { [ParticipantRole.Admin]: ParticipantRole.Moderator },
      },
      'invite',
    );
    expect(roleMayChange(roles, ADMIN, MEMBER, MODERATOR)).toBe(true);
    expect(roleMayChange(roles, ADMIN, MEMBER, ADMIN)).toBe(false);
    expect(roleMayChange(roles, OWNER, MEMBER, OWNER)).toBe(true);
  });

  it('adds role 0 with canOpenJoin (0 → member) for an open room only', () => {
    expect(roleAt(rolesListFor(DEFAULT_ROOM_PERMISSIONS, 'invite'), NONE)).toBeUndefined();
    const open = rolesListFor(DEFAULT_ROOM_PERMISSIONS, 'public');
    expect(roleAt(open, NONE)).toMatchObject({
      capabilities: [Capability.canOpenJoin],
      authorizedRoleChanges: [{ fromRoleIndex: NONE, targetRoleIndexes: [MEMBER] }],
    });
  });
});

describe(roomStateComponents.name, () => {
  it('writes room_metadata, roles_list, base_room_policy, logging_policy and bot_policy, sorted', () => {
    const components = roomStateComponents(ROOM, { name: 'Club', topic: 'Chess on Fridays', joinRule: 'public' });
    expect(components.map((c) => c.componentId)).toEqual([
      RoomStateComponentId.roomMetadata,
      RoomStateComponentId.rolesList,
      RoomStateComponentId.baseRoomPolicy,
      RoomStateComponentId.loggingPolicy,
      RoomStateComponentId.botPolicy,
    ]);
    const state = readRoomState(asExtensions(components));
    expect(state.metadata).toMatchObject({
      roomUri: ROOM.roomUri,
      name: 'Club',
      descriptions: [{ mediaType: '', languageTag: '', content: 'Chess on Fridays' }],
      avatarUri: '',
    });
    expect(state.roles).toEqual(rolesListFor(DEFAULT_ROOM_PERMISSIONS, 'public'));
    expect(state.basePolicy).toMatchObject({ discoverable: true, persistentRoom: true, multiDevice: true });
    expect(state.basePolicy?.policyComponentIds).toContain(RoomStateComponentId.rolesList);
    expect(state.logging).toMatchObject({ logging: 'required', loggingClients: ['mimi://a.example'] });
    expect(state.bots?.[0]?.description).toMatch(/decrypted by the gateway a\.example .* matrix room/);
  });

  it('reports only the components whose bytes change', () => {
    const extensions = asExtensions(roomStateComponents(ROOM, { name: 'Club', joinRule: 'invite' }));
    expect(changedComponents(extensions, policyComponents(undefined, 'invite'))).toEqual([]);
    const opened = changedComponents(extensions, policyComponents(undefined, 'public'));
    expect(opened.map((c) => c.componentId)).toEqual([
      RoomStateComponentId.rolesList,
      RoomStateComponentId.baseRoomPolicy,
    ]);
    expect(roleAt(decodeRolesList(opened[0]!.data), NONE)?.capabilities).toEqual([Capability.canOpenJoin]);
  });

  it('reads nothing from a group without room state, and refuses a malformed component', () => {
    expect(readRoomState([])).toEqual({});
    const bad = asExtensions([{ componentId: RoomStateComponentId.rolesList, data: Uint8Array.of(5, 0) }]);
    expect(() => readRoomState(bad)).toThrow(/RoleData/);
  });
});
