/**
 * Room policy as pure functions (draft-ietf-mimi-room-policy-03, simplified; see README.md
 * "Roles"). Every MIMI room of this gateway uses one fixed role set; `role_index` in the
 * participant list (protocol-06 §7.5) is the position of the port's `ParticipantRole`:
 *
 *   1 banned · 2 visitor · 3 member · 4 moderator · 5 admin · 6 owner
 *
 * Index 0 means "not a participant" and index 1 is the capability-less "banned" role, as
 * room-policy-03 fixes them. The roles_list component itself is not put in the group (the MLS
 * layer does not build it yet); peers must know this table.
 */
import { type ProviderDomain, type UserUri, domainOf } from '../common/ids';
import type { Participant } from '../mls';
import { ParticipantRole } from '../ports';

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

/** The role of a `role_index`; unknown indices above the table count as visitors (least privilege but banned). */
export function roleOfIndex(index: number): ParticipantRole {
  return ROLE_ORDER[index - 1] ?? ParticipantRole.Visitor;
}

/** Capabilities (room-policy-03 §"MIMI Role Capabilities" names) this gateway enforces. */
export enum Capability {
  ReceiveMessage = 'canReceiveMessage',
  SendMessage = 'canSendMessage',
  RemoveSelf = 'canRemoveSelf',
  AddParticipant = 'canAddParticipant',
  RemoveParticipant = 'canRemoveParticipant',
  Ban = 'canBan',
  UnBan = 'canUnBan',
  ChangeUserRole = 'canChangeUserRole',
}

const CAPABILITIES: Readonly<Record<ParticipantRole, ReadonlySet<Capability>>> = (() => {
  const visitor = [Capability.ReceiveMessage, Capability.RemoveSelf];
  const member = [...visitor, Capability.SendMessage, Capability.AddParticipant];
  const moderator = [
    ...member,
    Capability.RemoveParticipant,
    Capability.Ban,
    Capability.UnBan,
    Capability.ChangeUserRole,
  ];
  return {
    [ParticipantRole.Banned]: new Set<Capability>(),
    [ParticipantRole.Visitor]: new Set(visitor),
    [ParticipantRole.Member]: new Set(member),
    [ParticipantRole.Moderator]: new Set(moderator),
    [ParticipantRole.Admin]: new Set(moderator),
    [ParticipantRole.Owner]: new Set(moderator),
  };
})();

export function can(role: ParticipantRole, capability: Capability): boolean {
  return CAPABILITIES[role].has(capability);
}

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
}

export type PolicyDecision = { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

const ALLOWED: PolicyDecision = { allowed: true };
const deny = (reason: string): PolicyDecision => ({ allowed: false, reason });

/**
 * Authorise a follower's participant-list / membership change (protocol-06 §5.3 `notAllowed`).
 * Rules (room-policy-03 capabilities, simplified; RELIABILITY §3 "a follower acts only for its
 * own users"):
 * - the committer belongs to the calling provider and is a participant that is not banned;
 * - added participants and added clients belong to the calling provider, are added as member or
 *   lower, and need canAddParticipant; every added client's user is a participant afterwards and
 *   not banned;
 * - a participant may remove itself (canRemoveSelf); removing anyone else needs
 *   canRemoveParticipant and a role above the target's;
 * - role changes need canChangeUserRole (canBan / canUnBan for the banned role), a role above
 *   the target's old role and at least its new one; nobody changes their own role;
 * - Remove proposals travel with the participant-list change that removes (or bans) their
 *   users, in the same commit (protocol-06 §5.3).
 */
export function authoriseChange(change: ProposedChange): PolicyDecision {
  const { peerDomain, committer, before, after } = change;
  if (domainOf(committer) !== peerDomain) return deny(`${committer} is not a user of ${peerDomain}`);
  const actor = participantOf(before, committer);
  if (actor === undefined) return deny(`${committer} is not a participant`);
  const actorRole = roleOfIndex(actor.roleIndex);
  if (actorRole === ParticipantRole.Banned) return deny(`${committer} is banned`);
  for (const user of change.removedClients) {
    const p = participantOf(after, user);
    if (p !== undefined && p.roleIndex !== roleIndexOf(ParticipantRole.Banned)) {
      return deny(`a client of ${user} is removed but ${user} stays a participant`);
    }
  }

  const diff = diffParticipants(before, after);
  for (const p of diff.added) {
    if (domainOf(p.user) !== peerDomain) return deny(`${peerDomain} may not add ${p.user}, a user of another provider`);
    if (!can(actorRole, Capability.AddParticipant)) return deny(`${committer} may not add participants`);
    if (p.roleIndex > roleIndexOf(ParticipantRole.Member)) return deny(`${p.user} may be added as member at most`);
  }
  for (const user of change.addedClients) {
    if (domainOf(user) !== peerDomain) return deny(`${peerDomain} may not add a client of ${user}`);
    const p = participantOf(after, user);
    if (p === undefined) return deny(`a client of ${user} is added but ${user} is not a participant`);
    if (p.roleIndex === roleIndexOf(ParticipantRole.Banned)) return deny(`${user} is banned`);
  }
  for (const p of diff.removed) {
    if (p.user === committer) {
      if (!can(actorRole, Capability.RemoveSelf)) return deny(`${committer} may not leave`);
      continue;
    }
    const neededCapability =
      p.roleIndex === roleIndexOf(ParticipantRole.Banned) ? Capability.UnBan : Capability.RemoveParticipant;
    if (!can(actorRole, neededCapability)) return deny(`${committer} may not remove ${p.user}`);
    if (p.roleIndex >= actor.roleIndex) return deny(`${committer} may not remove ${p.user}, whose role is not lower`);
  }
  for (const c of diff.roleChanges) {
    if (c.user === committer) return deny(`${committer} may not change its own role`);
    const banned = roleIndexOf(ParticipantRole.Banned);
    const needed = c.to === banned ? Capability.Ban : c.from === banned ? Capability.UnBan : Capability.ChangeUserRole;
    if (!can(actorRole, needed)) return deny(`${committer} may not change the role of ${c.user}`);
    if (c.from >= actor.roleIndex || c.to > actor.roleIndex) {
      return deny(`${committer} may not give ${c.user} role ${c.to} (from ${c.from})`);
    }
  }
  return ALLOWED;
}

/** Whether `user` may send application messages (protocol-06 §5.4: an active participant whose role allows it). */
export function maySendMessage(list: readonly Participant[], user: UserUri): PolicyDecision {
  const p = participantOf(list, user);
  if (p === undefined) return deny(`${user} is not a participant`);
  if (!can(roleOfIndex(p.roleIndex), Capability.SendMessage)) return deny(`the role of ${user} may not send messages`);
  return ALLOWED;
}
