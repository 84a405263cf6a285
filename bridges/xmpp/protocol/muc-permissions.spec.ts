import { ParticipantRole } from '../../../src/ports';
import { joinRuleOfFeatures, permissionsOfFeatures } from './muc-permissions';

describe('XEP-0045 privileges as room permissions', () => {
  it('opens only an open room without a password', () => {
    expect(joinRuleOfFeatures(['muc_open', 'muc_unsecured'])).toBe('public');
    expect(joinRuleOfFeatures(['muc_membersonly'])).toBe('invite');
    expect(joinRuleOfFeatures(['muc_open', 'muc_passwordprotected'])).toBe('invite');
    expect(joinRuleOfFeatures([])).toBe('invite');
  });

  it('lets admins invite in members-only rooms and anyone in open ones', () => {
    expect(permissionsOfFeatures(['muc_membersonly']).minimumRole.invite).toBe(ParticipantRole.Admin);
    expect(permissionsOfFeatures(['muc_open']).minimumRole.invite).toBe(ParticipantRole.Member);
  });

  it('gives kicks to moderators, bans to admins, configuration to owners, and grants by affiliation', () => {
    const p = permissionsOfFeatures(['muc_open']);
    expect(p.minimumRole).toMatchObject({
      kick: ParticipantRole.Moderator,
      ban: ParticipantRole.Admin,
      changeName: ParticipantRole.Owner,
      changeJoinRule: ParticipantRole.Owner,
    });
    expect(p.highestGrant).toEqual({
      [ParticipantRole.Moderator]: ParticipantRole.Member,
      [ParticipantRole.Admin]: ParticipantRole.Moderator,
      [ParticipantRole.Owner]: ParticipantRole.Owner,
    });
  });
});
