/**
 * XEP-0045 affiliations (long-lived, per bare JID: owner, admin, member, none, outcast) and roles
 * (per visit: moderator, participant, visitor, none) ↔ the port's ParticipantRole.
 *
 * Inbound, an occupant's ParticipantRole is the stronger of the two: owner → Owner, admin → Admin,
 * outcast → Banned, a moderator role → Moderator, a visitor role → Visitor, everything else Member.
 * Outbound, Owner/Admin/Member/Banned are affiliation changes (XEP-0045 §9, §10) and need a real
 * JID; Moderator and Visitor are role changes (§8.6, §9.6) and need the occupant to be present.
 */
import { ParticipantRole } from '../../../src/ports';

export type MucAffiliation = 'owner' | 'admin' | 'member' | 'none' | 'outcast';
export type MucRole = 'moderator' | 'participant' | 'visitor' | 'none';

const AFFILIATIONS: readonly string[] = ['owner', 'admin', 'member', 'none', 'outcast'];
const ROLES: readonly string[] = ['moderator', 'participant', 'visitor', 'none'];

export function asAffiliation(s: string | undefined): MucAffiliation | undefined {
  return s !== undefined && AFFILIATIONS.includes(s) ? (s as MucAffiliation) : undefined;
}

export function asRole(s: string | undefined): MucRole | undefined {
  return s !== undefined && ROLES.includes(s) ? (s as MucRole) : undefined;
}

/** The ParticipantRole of an occupant with this affiliation and role. */
export function participantRoleOf(affiliation: MucAffiliation | undefined, role: MucRole | undefined): ParticipantRole {
  switch (affiliation) {
    case 'owner':
      return ParticipantRole.Owner;
    case 'admin':
      return ParticipantRole.Admin;
    case 'outcast':
      return ParticipantRole.Banned;
    case 'member':
    case 'none':
    case undefined:
      break;
  }
  if (role === 'moderator') return ParticipantRole.Moderator;
  if (role === 'visitor') return ParticipantRole.Visitor;
  return ParticipantRole.Member;
}

/** What to change on the MUC to give someone `role`: an affiliation (by JID) or a role (by nick). */
export type MucRoleChange =
  | { readonly kind: 'affiliation'; readonly affiliation: MucAffiliation }
  | { readonly kind: 'role'; readonly role: MucRole };

export function mucChangeFor(role: ParticipantRole): MucRoleChange {
  switch (role) {
    case ParticipantRole.Owner:
      return { kind: 'affiliation', affiliation: 'owner' };
    case ParticipantRole.Admin:
      return { kind: 'affiliation', affiliation: 'admin' };
    case ParticipantRole.Member:
      return { kind: 'affiliation', affiliation: 'member' };
    case ParticipantRole.Banned:
      return { kind: 'affiliation', affiliation: 'outcast' };
    case ParticipantRole.Moderator:
      return { kind: 'role', role: 'moderator' };
    case ParticipantRole.Visitor:
      return { kind: 'role', role: 'visitor' };
  }
}
