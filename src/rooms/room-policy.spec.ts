import { type ProviderDomain, type UserUri } from '../common/ids';
import { Capability, type Role } from '../mimi/room-state';
import { ParticipantRole } from '../ports';
import {
  authoriseChange,
  authoriseMetadataChange,
  diffParticipants,
  mayAddParticipants,
  mayOpenJoin,
  maySendMessage,
  roleIndexOf,
  roleOfIndex,
  type ProposedChange,
} from './room-policy';
import { DEFAULT_ROOM_PERMISSIONS, rolesListFor } from './room-state/roles-from-permissions';

const HUB: ProviderDomain = 'a.example' as ProviderDomain;
const PEER: ProviderDomain = 'b.example' as ProviderDomain;
const ALICE = 'mimi://a.example/u/memory:alice' as UserUri;
const BOB = 'mimi://b.example/u/memory:bob' as UserUri;
const CAROL = 'mimi://b.example/u/memory:carol' as UserUri;
const ERIN = 'mimi://b.example/u/memory:erin' as UserUri;
const EVE = 'mimi://c.example/u/memory:eve' as UserUri;

const BANNED = roleIndexOf(ParticipantRole.Banned);
const VISITOR = roleIndexOf(ParticipantRole.Visitor);
const MEMBER = roleIndexOf(ParticipantRole.Member);
const MODERATOR = roleIndexOf(ParticipantRole.Moderator);
const OWNER = roleIndexOf(ParticipantRole.Owner);

const ROOM = [
  { user: ALICE, roleIndex: OWNER },
  { user: BOB, roleIndex: MEMBER },
  { user: CAROL, roleIndex: MODERATOR },
];

/** The roles of a room whose bridge reports no permissions of its own. */
const ROLES = rolesListFor(DEFAULT_ROOM_PERMISSIONS, 'invite');

function change(overrides: Partial<ProposedChange>): ProposedChange {
  return {
    roles: ROLES,
    peerDomain: PEER,
    committer: BOB,
    before: ROOM,
    after: ROOM,
    addedClients: [],
    removedClients: [],
    ...overrides,
  };
}

describe('role indices', () => {
  it('map the port roles to room-policy indices, 1 being banned', () => {
    expect(Object.values(ParticipantRole).map(roleIndexOf)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Object.values(ParticipantRole).map((r) => roleOfIndex(roleIndexOf(r)))).toEqual(
      Object.values(ParticipantRole),
    );
    expect(roleOfIndex(42)).toBe(ParticipantRole.Visitor);
  });
});

describe(maySendMessage.name, () => {
  it('lets members send and refuses visitors, banned users and non-participants', () => {
    const list = [...ROOM, { user: ERIN, roleIndex: VISITOR }, { user: EVE, roleIndex: BANNED }];
    expect(maySendMessage(ROLES, list, BOB)).toEqual({ allowed: true });
    expect(maySendMessage(ROLES, list, ERIN)).toMatchObject({ allowed: false });
    expect(maySendMessage(ROLES, list, EVE)).toMatchObject({ allowed: false });
    expect(maySendMessage(ROLES, ROOM, ERIN)).toMatchObject({
      allowed: false,
      reason: expect.stringContaining('not a participant'),
    });
  });
});

describe(authoriseChange.name, () => {
  it('lets a member add a user of its own provider together with that user\u2019s client', () => {
    const after = [...ROOM, { user: ERIN, roleIndex: MEMBER }];
    expect(authoriseChange(change({ after, addedClients: [ERIN] }))).toEqual({ allowed: true });
  });

  it('refuses a committer of another provider than the caller (a follower acts only for its own users)', () => {
    expect(authoriseChange(change({ committer: ALICE }))).toMatchObject({ allowed: false });
  });

  it('refuses adding users or clients of a third provider, and clients of non-participants', () => {
    const withEve = [...ROOM, { user: EVE, roleIndex: MEMBER }];
    expect(authoriseChange(change({ after: withEve, addedClients: [EVE] }))).toMatchObject({ allowed: false });
    expect(authoriseChange(change({ addedClients: [ERIN] }))).toMatchObject({ allowed: false });
  });

  it('lets a follower add a third provider’s user whose key material it fetched through the hub (viaHub), as member', () => {
    const withEve = [...ROOM, { user: EVE, roleIndex: MEMBER }];
    const viaHub = new Set([EVE]);
    expect(authoriseChange(change({ after: withEve, addedClients: [EVE], viaHub }))).toEqual({ allowed: true });
    // Not fetched through the hub for this caller: refused, with the reason.
    expect(authoriseChange(change({ after: withEve, addedClients: [EVE], viaHub: new Set() }))).toEqual({
      allowed: false,
      reason: `${PEER} may not add ${EVE}, a user of another provider whose key material it did not fetch through the hub`,
    });
    // Still only as member, and only by a role that may add.
    const asModerator = [...ROOM, { user: EVE, roleIndex: MODERATOR }];
    expect(authoriseChange(change({ after: asModerator, addedClients: [EVE], viaHub }))).toMatchObject({
      allowed: false,
    });
    const noAdds = ROLES.map((r) => ({
      ...r,
      capabilities: r.capabilities.filter((c) => c !== Capability.canAddParticipant),
    }));
    expect(authoriseChange(change({ roles: noAdds, after: withEve, addedClients: [EVE], viaHub }))).toMatchObject({
      allowed: false,
      reason: expect.stringContaining('canAddParticipant') as unknown as string,
    });
  });

  it('refuses adding a user with a role above member', () => {
    const after = [...ROOM, { user: ERIN, roleIndex: MODERATOR }];
    expect(authoriseChange(change({ after, addedClients: [ERIN] }))).toMatchObject({ allowed: false });
  });

  it('lets anyone leave, but only a higher role remove someone else', () => {
    expect(authoriseChange(change({ after: ROOM.filter((p) => p.user !== BOB) }))).toEqual({ allowed: true });
    expect(authoriseChange(change({ after: ROOM.filter((p) => p.user !== ALICE) }))).toMatchObject({
      allowed: false,
    });
    expect(authoriseChange(change({ committer: CAROL, after: ROOM.filter((p) => p.user !== BOB) }))).toEqual({
      allowed: true,
    });
    expect(authoriseChange(change({ committer: CAROL, after: ROOM.filter((p) => p.user !== ALICE) }))).toMatchObject({
      allowed: false,
    });
  });

  it('lets a moderator ban a lower role but not promote above itself; nobody changes its own role', () => {
    const banBob = ROOM.map((p) => (p.user === BOB ? { ...p, roleIndex: BANNED } : p));
    expect(authoriseChange(change({ committer: CAROL, after: banBob }))).toEqual({ allowed: true });
    expect(authoriseChange(change({ committer: BOB, after: banBob }))).toMatchObject({ allowed: false });
    const bobOwner = ROOM.map((p) => (p.user === BOB ? { ...p, roleIndex: OWNER } : p));
    expect(authoriseChange(change({ committer: CAROL, after: bobOwner }))).toMatchObject({ allowed: false });
    const selfPromotion = ROOM.map((p) => (p.user === CAROL ? { ...p, roleIndex: OWNER } : p));
    expect(authoriseChange(change({ committer: CAROL, after: selfPromotion }))).toMatchObject({ allowed: false });
  });

  it('accepts Removes only of users the same commit takes off the list or bans; refuses banned committers', () => {
    expect(authoriseChange(change({ removedClients: [CAROL] }))).toMatchObject({ allowed: false });
    const banBob = ROOM.map((p) => (p.user === BOB ? { ...p, roleIndex: BANNED } : p));
    expect(authoriseChange(change({ committer: CAROL, after: banBob, removedClients: [BOB] }))).toEqual({
      allowed: true,
    });
    const bobBanned = ROOM.map((p) => (p.user === BOB ? { ...p, roleIndex: BANNED } : p));
    expect(authoriseChange(change({ before: bobBanned, after: bobBanned }))).toMatchObject({ allowed: false });
  });

  it('is used with the caller\u2019s domain: the hub domain itself is a different provider', () => {
    expect(authoriseChange(change({ peerDomain: HUB }))).toMatchObject({ allowed: false });
  });
});

/** `roles` with role `roleIndex` changed by `edit`. */
function withRole(roles: readonly Role[], roleIndex: number, edit: (r: Role) => Role): Role[] {
  return roles.map((r) => (r.roleIndex === roleIndex ? edit(r) : r));
}

describe('enforcement follows the roles_list, not a fixed table', () => {
  it('refuses a member whose role lost canSendMessage, and allows a visitor whose role gained it', () => {
    const mute = withRole(ROLES, MEMBER, (r) => ({
      ...r,
      capabilities: r.capabilities.filter((c) => c !== Capability.canSendMessage),
    }));
    expect(maySendMessage(mute, ROOM, BOB)).toMatchObject({
      allowed: false,
      reason: expect.stringMatching(/canSendMessage/),
    });
    const list = [...ROOM, { user: ERIN, roleIndex: VISITOR }];
    const talkative = withRole(ROLES, VISITOR, (r) => ({
      ...r,
      capabilities: [...r.capabilities, Capability.canSendMessage],
    }));
    expect(maySendMessage(talkative, list, ERIN)).toEqual({ allowed: true });
  });

  it('needs both the capability and the authorized role change', () => {
    const noInvite = withRole(ROLES, MEMBER, (r) => ({
      ...r,
      capabilities: r.capabilities.filter((c) => c !== Capability.canAddParticipant),
    }));
    const after = [...ROOM, { user: ERIN, roleIndex: MEMBER }];
    expect(authoriseChange(change({ roles: noInvite, after, addedClients: [ERIN] }))).toMatchObject({
      allowed: false,
      reason: expect.stringMatching(/canAddParticipant/),
    });
    // canAddParticipant kept, but the change 0 → member taken out of the member role.
    const noTarget = withRole(ROLES, MEMBER, (r) => ({
      ...r,
      authorizedRoleChanges: r.authorizedRoleChanges.filter((c) => c.fromRoleIndex !== 0),
    }));
    expect(authoriseChange(change({ roles: noTarget, after, addedClients: [ERIN] }))).toMatchObject({
      allowed: false,
      reason: expect.stringMatching(/authorized_role_changes/),
    });
    // A member given canRemoveParticipant with visitor → 0 may remove a visitor.
    const carolVisitor = ROOM.map((p) => (p.user === CAROL ? { ...p, roleIndex: VISITOR } : p));
    const kicker = withRole(ROLES, MEMBER, (r) => ({
      ...r,
      capabilities: [...r.capabilities, Capability.canRemoveParticipant],
      authorizedRoleChanges: [...r.authorizedRoleChanges, { fromRoleIndex: VISITOR, targetRoleIndexes: [0] }],
    }));
    const withoutCarol = carolVisitor.filter((p) => p.user !== CAROL);
    expect(authoriseChange(change({ before: carolVisitor, after: withoutCarol }))).toMatchObject({ allowed: false });
    expect(authoriseChange(change({ roles: kicker, before: carolVisitor, after: withoutCarol }))).toEqual({
      allowed: true,
    });
  });

  it('keeps the hierarchy the list cannot express: a moderator neither removes nor demotes another moderator', () => {
    const twoMods = [...ROOM, { user: ERIN, roleIndex: MODERATOR }];
    expect(authoriseChange(change({ committer: CAROL, before: twoMods, after: ROOM }))).toMatchObject({
      allowed: false,
      reason: expect.stringMatching(/not below its own/),
    });
    const demoted = twoMods.map((p) => (p.user === ERIN ? { ...p, roleIndex: MEMBER } : p));
    expect(authoriseChange(change({ committer: CAROL, before: twoMods, after: demoted }))).toMatchObject({
      allowed: false,
    });
  });

  it('refuses a committer whose role is not in the list', () => {
    const noMember = ROLES.filter((r) => r.roleIndex !== MEMBER);
    expect(authoriseChange(change({ roles: noMember, after: ROOM.filter((p) => p.user !== BOB) }))).toMatchObject({
      allowed: false,
      reason: expect.stringMatching(/not in the roles_list/),
    });
  });

  it('opens a room to joiners only through role 0 canOpenJoin', () => {
    expect(mayOpenJoin(ROLES, MEMBER)).toBe(false);
    const open = rolesListFor(DEFAULT_ROOM_PERMISSIONS, 'public');
    expect(mayOpenJoin(open, MEMBER)).toBe(true);
    expect(mayOpenJoin(open, MODERATOR)).toBe(false);
  });
});

describe(mayAddParticipants.name, () => {
  it('lets a participant whose role has canAddParticipant add, and refuses non-participants and the banned', () => {
    const list = [...ROOM, { user: EVE, roleIndex: BANNED }];
    expect(mayAddParticipants(ROLES, list, BOB)).toEqual({ allowed: true });
    expect(mayAddParticipants(ROLES, list, ERIN)).toEqual({ allowed: false, reason: `${ERIN} is not a participant` });
    expect(mayAddParticipants(ROLES, list, EVE)).toEqual({ allowed: false, reason: `${EVE} is not a participant` });
    const noAdds = ROLES.map((r) => ({
      ...r,
      capabilities: r.capabilities.filter((c) => c !== Capability.canAddParticipant),
    }));
    expect(mayAddParticipants(noAdds, list, BOB)).toEqual({
      allowed: false,
      reason: `the role of ${BOB} may not add participants (no canAddParticipant)`,
    });
  });
});

describe(authoriseMetadataChange.name, () => {
  const before = { roomUri: 'mimi://a.example/r/x', name: 'N', descriptions: [], avatarUri: '', subject: '', mood: '' };
  const topic = { ...before, descriptions: [{ mediaType: '', languageTag: '', content: 'T' }] };

  it('needs the capability of each changed field', () => {
    expect(authoriseMetadataChange(ROLES, ROOM, CAROL, before, topic)).toEqual({ allowed: true });
    expect(authoriseMetadataChange(ROLES, ROOM, BOB, before, topic)).toMatchObject({
      allowed: false,
      reason: expect.stringMatching(/canChangeRoomDescription/),
    });
    expect(authoriseMetadataChange(ROLES, ROOM, CAROL, before, { ...before, mood: 'happy' })).toMatchObject({
      allowed: false,
      reason: expect.stringMatching(/canChangeRoomMood/),
    });
  });

  it('refuses a new room URI, non-participants and banned users', () => {
    expect(
      authoriseMetadataChange(ROLES, ROOM, CAROL, before, { ...topic, roomUri: 'mimi://a.example/r/y' }),
    ).toMatchObject({
      allowed: false,
    });
    expect(authoriseMetadataChange(ROLES, ROOM, ERIN, before, topic)).toMatchObject({ allowed: false });
    const banned = [...ROOM, { user: ERIN, roleIndex: BANNED }];
    expect(authoriseMetadataChange(ROLES, banned, ERIN, before, topic)).toMatchObject({ allowed: false });
  });
});

describe(diffParticipants.name, () => {
  it('lists additions, removals and role changes', () => {
    const after = [
      { user: ALICE, roleIndex: OWNER },
      { user: BOB, roleIndex: MODERATOR },
      { user: ERIN, roleIndex: MEMBER },
    ];
    expect(diffParticipants(ROOM, after)).toEqual({
      added: [{ user: ERIN, roleIndex: MEMBER }],
      removed: [{ user: CAROL, roleIndex: MODERATOR }],
      roleChanges: [{ user: BOB, from: MEMBER, to: MODERATOR }],
    });
  });

  it('diffs a room of thousands in list order, comparing against the first entry of a user', () => {
    const user = (i: number): UserUri => `mimi://b.example/u/memory:u${i}` as UserUri;
    const before = Array.from({ length: 3000 }, (_, i) => ({ user: user(i), roleIndex: MEMBER }));
    const after = [
      ...before.filter((_, i) => i % 1000 !== 7).map((p, i) => (i === 2500 ? { ...p, roleIndex: MODERATOR } : p)),
      { user: user(3001), roleIndex: MEMBER },
      { user: user(3000), roleIndex: VISITOR },
      { user: user(3001), roleIndex: OWNER },
    ];
    expect(diffParticipants(before, after)).toEqual({
      added: [
        { user: user(3001), roleIndex: MEMBER },
        { user: user(3000), roleIndex: VISITOR },
        { user: user(3001), roleIndex: OWNER },
      ],
      removed: [7, 1007, 2007].map((i) => ({ user: user(i), roleIndex: MEMBER })),
      roleChanges: [{ user: user(2503), from: MEMBER, to: MODERATOR }],
    });
  });
});
