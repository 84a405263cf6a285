import { type ProviderDomain, type UserUri } from '../common/ids';
import { ParticipantRole } from '../ports';
import {
  Capability,
  authoriseChange,
  can,
  diffParticipants,
  maySendMessage,
  roleIndexOf,
  roleOfIndex,
  type ProposedChange,
} from './room-policy';

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

function change(overrides: Partial<ProposedChange>): ProposedChange {
  return {
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
    expect(can(ParticipantRole.Banned, Capability.ReceiveMessage)).toBe(false);
  });
});

describe(maySendMessage.name, () => {
  it('lets members send and refuses visitors, banned users and non-participants', () => {
    const list = [...ROOM, { user: ERIN, roleIndex: VISITOR }, { user: EVE, roleIndex: BANNED }];
    expect(maySendMessage(list, BOB)).toEqual({ allowed: true });
    expect(maySendMessage(list, ERIN)).toMatchObject({ allowed: false });
    expect(maySendMessage(list, EVE)).toMatchObject({ allowed: false });
    expect(maySendMessage(ROOM, ERIN)).toMatchObject({
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
