/**
 * XEP-0045's privileges (§5.1.2 role privileges, §5.2.1 affiliation privileges) → the port's
 * `RoomPermissions`, from which the core writes the MIMI roles_list (room-policy-03 §3), and
 * disco#info features (§6.4) → the join rule.
 *
 * - Participants (Member) post; moderators kick (role none, §8.2), moderate messages (XEP-0425)
 *   and change the subject (the default of `muc#roomconfig_changesubject`); admins ban (§9.1);
 *   owners rename, change the avatar and the room's configuration (§10).
 * - Invitations: anyone in an open room; admins and owners in a members-only room (§7.8).
 * - Role changes: moderators give or take voice (visitor ↔ participant, §8.3-8.4), admins grant
 *   membership and moderator status (§9.3, §9.6), owners grant admin and owner (§10.3, §10.6).
 */
import { type JoinRule, ParticipantRole, type RoomPermissions } from '../../../src/ports';

/** Members-only, password-protected or not saying `muc_open`: invite-only. */
export function joinRuleOfFeatures(features: readonly string[]): JoinRule {
  const open = features.includes('muc_open') && !features.includes('muc_membersonly');
  return open && !features.includes('muc_passwordprotected') ? 'public' : 'invite';
}

export function permissionsOfFeatures(features: readonly string[]): RoomPermissions {
  const membersOnly = features.includes('muc_membersonly');
  return {
    minimumRole: {
      send: ParticipantRole.Member,
      invite: membersOnly ? ParticipantRole.Admin : ParticipantRole.Member,
      kick: ParticipantRole.Moderator,
      ban: ParticipantRole.Admin,
      redact: ParticipantRole.Moderator,
      changeName: ParticipantRole.Owner,
      changeTopic: ParticipantRole.Moderator,
      changeAvatar: ParticipantRole.Owner,
      changeRoles: ParticipantRole.Moderator,
      changeJoinRule: ParticipantRole.Owner,
    },
    highestGrant: {
      [ParticipantRole.Moderator]: ParticipantRole.Member,
      [ParticipantRole.Admin]: ParticipantRole.Moderator,
      [ParticipantRole.Owner]: ParticipantRole.Owner,
    },
  };
}
