/**
 * Room policy as pure functions (draft-ietf-mimi-room-policy-03 §8): what a participant may do is
 * what its role's capabilities and `authorized_role_changes` in the room's `roles_list` say. The
 * hub generates that list from the legacy platform's own rules (room-state/roles-from-permissions.ts)
 * and enforces it here, for followers' commits (`authoriseChange`) and messages (`maySendMessage`).
 * Role indices: 0 "not a participant", 1 banned, then the gateway's role set (`roleIndexOf`).
 */
import { type ProviderDomain, type UserUri, domainOf } from '../common/ids';
import { Capability, type Role, type RoomMetadata, roleAt, roleHas, roleMayChange } from '../mimi/room-state';
import { BANNED_ROLE_INDEX, NO_ROLE_INDEX, type Participant } from '../mls';
import { roleIndexOf, roleOfIndex } from './room-state/roles-from-permissions';

export { roleIndexOf, roleOfIndex };

/** The participant entry of `user`, if any. */
export function participantOf(list: readonly Participant[], user: string): Participant | undefined {
  return list.find((p) => p.user === user);
}

/** What a participant-list change does, user by user (protocol-06 §7.5 ParticipantListUpdate, as a diff). */
export interface ParticipantDiff {
  readonly added: readonly Participant[];
  readonly removed: readonly Participant[];
  readonly roleChanges: readonly { readonly user: UserUri; readonly from: number; readonly to: number }[];
}

/** Linear in the lists' lengths (a room of 1,000 participants diffs in well under a millisecond). */
export function diffParticipants(before: readonly Participant[], after: readonly Participant[]): ParticipantDiff {
  const beforeByUser = byUser(before);
  const afterByUser = byUser(after);
  const added = after.filter((a) => !beforeByUser.has(a.user));
  const removed = before.filter((b) => !afterByUser.has(b.user));
  const roleChanges = after.flatMap((a) => {
    const b = beforeByUser.get(a.user);
    return b !== undefined && b.roleIndex !== a.roleIndex ? [{ user: a.user, from: b.roleIndex, to: a.roleIndex }] : [];
  });
  return { added, removed, roleChanges };
}

/** Each user's first entry, as `participantOf` finds it. */
function byUser(list: readonly Participant[]): Map<string, Participant> {
  const map = new Map<string, Participant>();
  for (const p of list) if (!map.has(p.user)) map.set(p.user, p);
  return map;
}

/** A follower's commit as the hub sees it before applying it (protocol-06 §5.3). */
export interface ProposedChange {
  /** The room's roles_list (room-policy-03 §3) before the commit. */
  readonly roles: readonly Role[];
  /** The provider the request came from (mutual-TLS certificate). */
  readonly peerDomain: ProviderDomain;
  /** The user whose MLS client committed. */
  readonly committer: UserUri;
  readonly before: readonly Participant[];
  /** The participant list after the commit (unchanged when the commit carries no list). */
  readonly after: readonly Participant[];
  /** Users of the clients the commit adds. */
  readonly addedClients: readonly UserUri[];
  /** Users of the clients the commit removes. */
  readonly removedClients: readonly UserUri[];
  /**
   * Users of other providers whose KeyPackages the hub fetched for the calling provider for this
   * room (KeyPackageRoutes, protocol-06 §5.2 via the hub): the calling provider may add them.
   */
  readonly viaHub?: ReadonlySet<UserUri>;
}

export type PolicyDecision = { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

const ALLOWED: PolicyDecision = { allowed: true };
const deny = (reason: string): PolicyDecision => ({ allowed: false, reason });

const capabilityName = (c: Capability): string =>
  Object.entries(Capability).find(([, v]) => v === c)?.[0] ?? `capability 0x${c.toString(16)}`;

/**
 * Authorise a follower's participant-list / membership change (protocol-06 §5.3 `notAllowed`)
 * by the room's roles_list (room-policy-03 §8.1), plus RELIABILITY §3 "a follower acts only for
 * its own users":
 * - the committer belongs to the calling provider and is a participant whose role is in the list
 *   and not banned;
 * - added participants and added clients belong to the calling provider, or are users of a third
 *   provider whose KeyPackages the caller fetched through the hub for this room (`viaHub`,
 *   protocol-06 §3.3); adding a participant needs canAddParticipant and the change 0 → its role;
 *   every added client's user is a participant afterwards and not banned;
 * - leaving needs canRemoveSelf and the change own role → 0; removing anyone else needs
 *   canRemoveParticipant (canUnBan for a banned entry) and the change its role → 0;
 * - removals, bans and role changes of others also need the target's role to be below the
 *   committer's (the platforms' hierarchy, which authorized_role_changes cannot express);
 * - role changes need canChangeUserRole (canBan to role 1, canUnBan from it) and the change in
 *   the committer's authorized_role_changes; nobody changes their own role (canChangeOwnRole
 *   needs the preauth_list, which this gateway does not write);
 * - Remove proposals travel with the participant-list change that removes (or bans) their
 *   users, in the same commit (protocol-06 §5.3).
 */
export function authoriseChange(change: ProposedChange): PolicyDecision {
  const { roles, peerDomain, committer, before, after } = change;
  if (domainOf(committer) !== peerDomain) return deny(`${committer} is not a user of ${peerDomain}`);
  const actor = participantOf(before, committer);
  if (actor === undefined) return deny(`${committer} is not a participant`);
  if (actor.roleIndex === BANNED_ROLE_INDEX) return deny(`${committer} is banned`);
  if (roleAt(roles, actor.roleIndex) === undefined) {
    return deny(`role ${actor.roleIndex} of ${committer} is not in the roles_list`);
  }
  const needs = (capability: Capability, from: number, to: number, what: string): PolicyDecision | undefined => {
    if (!roleHas(roles, actor.roleIndex, capability)) {
      return deny(`${committer} may not ${what}: its role lacks ${capabilityName(capability)}`);
    }
    if (!roleMayChange(roles, actor.roleIndex, from, to)) {
      return deny(`${committer} may not ${what}: role change ${from} → ${to} is not among its authorized_role_changes`);
    }
    return undefined;
  };
  for (const user of change.removedClients) {
    const p = participantOf(after, user);
    if (p !== undefined && p.roleIndex !== BANNED_ROLE_INDEX) {
      return deny(`a client of ${user} is removed but ${user} stays a participant`);
    }
  }

  const diff = diffParticipants(before, after);
  const mayAddUser = (user: UserUri): boolean => domainOf(user) === peerDomain || change.viaHub?.has(user) === true;
  for (const p of diff.added) {
    if (!mayAddUser(p.user)) {
      return deny(
        `${peerDomain} may not add ${p.user}, a user of another provider whose key material it did not fetch through the hub`,
      );
    }
    const refused = needs(
      Capability.canAddParticipant,
      NO_ROLE_INDEX,
      p.roleIndex,
      `add ${p.user} as role ${p.roleIndex}`,
    );
    if (refused) return refused;
  }
  for (const user of change.addedClients) {
    if (!mayAddUser(user)) return deny(`${peerDomain} may not add a client of ${user}`);
    const p = participantOf(after, user);
    if (p === undefined) return deny(`a client of ${user} is added but ${user} is not a participant`);
    if (p.roleIndex === BANNED_ROLE_INDEX) return deny(`${user} is banned`);
  }
  // The platforms' hierarchy (Matrix: a level above the target's; XEP-0045 likewise): nobody acts on a
  // peer or a higher role. authorized_role_changes cannot say so: a role's own entry (r → 0) is also
  // the one that lets its holders leave (room-policy-03 §8.1.2).
  const belowActor = (user: UserUri, role: number): PolicyDecision | undefined =>
    role >= actor.roleIndex ? deny(`${committer} may not act on ${user}, whose role is not below its own`) : undefined;
  for (const p of diff.removed) {
    if (p.user !== committer && p.roleIndex !== BANNED_ROLE_INDEX) {
      const refused = belowActor(p.user, p.roleIndex);
      if (refused) return refused;
    }
    const refused =
      p.user === committer
        ? needs(Capability.canRemoveSelf, p.roleIndex, NO_ROLE_INDEX, 'leave')
        : needs(
            p.roleIndex === BANNED_ROLE_INDEX ? Capability.canUnBan : Capability.canRemoveParticipant,
            p.roleIndex,
            NO_ROLE_INDEX,
            `remove ${p.user}`,
          );
    if (refused) return refused;
  }
  for (const c of diff.roleChanges) {
    if (c.user === committer) return deny(`${committer} may not change its own role`);
    const higher = belowActor(c.user, c.from);
    if (higher) return higher;
    const capability =
      c.to === BANNED_ROLE_INDEX
        ? Capability.canBan
        : c.from === BANNED_ROLE_INDEX
          ? Capability.canUnBan
          : Capability.canChangeUserRole;
    const refused = needs(capability, c.from, c.to, `change the role of ${c.user}`);
    if (refused) return refused;
  }
  return ALLOWED;
}

/** Whether `user` may send application messages (protocol-06 §5.4: a participant whose role has canSendMessage). */
export function maySendMessage(roles: readonly Role[], list: readonly Participant[], user: UserUri): PolicyDecision {
  const p = participantOf(list, user);
  if (p === undefined) return deny(`${user} is not a participant`);
  if (!roleHas(roles, p.roleIndex, Capability.canSendMessage)) {
    return deny(`the role of ${user} may not send messages (no canSendMessage)`);
  }
  return ALLOWED;
}

/**
 * Whether `user` may add participants (room-policy-03 §8.1 canAddParticipant): what the hub checks
 * before it passes a follower's `/keyMaterial` request on (protocol-06 §5.2 via the hub).
 */
export function mayAddParticipants(
  roles: readonly Role[],
  list: readonly Participant[],
  user: UserUri,
): PolicyDecision {
  const p = participantOf(list, user);
  if (p === undefined || p.roleIndex === BANNED_ROLE_INDEX) return deny(`${user} is not a participant`);
  if (!roleHas(roles, p.roleIndex, Capability.canAddParticipant)) {
    return deny(`the role of ${user} may not add participants (no canAddParticipant)`);
  }
  return ALLOWED;
}

/**
 * Whether a user who is not a participant may join by itself as `roleIndex` (room-policy-03
 * §8.1.1 canOpenJoin on role 0, with the change 0 → that role).
 */
export function mayOpenJoin(roles: readonly Role[], roleIndex: number): boolean {
  return (
    roleHas(roles, NO_ROLE_INDEX, Capability.canOpenJoin) &&
    roleMayChange(roles, NO_ROLE_INDEX, NO_ROLE_INDEX, roleIndex)
  );
}

/**
 * Authorise a follower's room_metadata change (protocol-06 §7.6, room-policy-03 §8.2): each changed
 * field needs its capability (name: canChangeRoomName, descriptions: canChangeRoomDescription,
 * avatar: canChangeRoomAvatar, subject: canChangeRoomSubject, mood: canChangeRoomMood); the room
 * URI never changes.
 */
export function authoriseMetadataChange(
  roles: readonly Role[],
  list: readonly Participant[],
  committer: UserUri,
  before: RoomMetadata | undefined,
  after: RoomMetadata,
): PolicyDecision {
  const actor = participantOf(list, committer);
  if (actor === undefined || actor.roleIndex === BANNED_ROLE_INDEX) return deny(`${committer} may not change the room`);
  if (before !== undefined && after.roomUri !== before.roomUri) {
    return deny('room_metadata may not change the room URI');
  }
  const changed: [boolean, Capability][] = [
    [after.name !== (before?.name ?? ''), Capability.canChangeRoomName],
    [
      JSON.stringify(after.descriptions) !== JSON.stringify(before?.descriptions ?? []),
      Capability.canChangeRoomDescription,
    ],
    [after.avatarUri !== (before?.avatarUri ?? ''), Capability.canChangeRoomAvatar],
    [after.subject !== (before?.subject ?? ''), Capability.canChangeRoomSubject],
    [after.mood !== (before?.mood ?? ''), Capability.canChangeRoomMood],
  ];
  for (const [isChanged, capability] of changed) {
    if (isChanged && !roleHas(roles, actor.roleIndex, capability)) {
      return deny(`${committer} may not change the room's metadata: its role lacks ${capabilityName(capability)}`);
    }
  }
  return ALLOWED;
}
