import { ParticipantRole } from '../../../src/ports';
import { mucChangeFor, participantRoleOf } from './muc-roles';

describe('participantRoleOf', () => {
  it('takes the stronger of affiliation and role', () => {
    expect(participantRoleOf('owner', 'moderator')).toBe(ParticipantRole.Owner);
    expect(participantRoleOf('admin', 'moderator')).toBe(ParticipantRole.Admin);
    expect(participantRoleOf('member', 'moderator')).toBe(ParticipantRole.Moderator);
    expect(participantRoleOf('member', 'participant')).toBe(ParticipantRole.Member);
    expect(participantRoleOf('none', 'participant')).toBe(ParticipantRole.Member);
    expect(participantRoleOf('none', 'visitor')).toBe(ParticipantRole.Visitor);
    expect(participantRoleOf('outcast', undefined)).toBe(ParticipantRole.Banned);
    expect(participantRoleOf(undefined, undefined)).toBe(ParticipantRole.Member);
  });
});

describe('mucChangeFor', () => {
  it('maps long-lived roles to affiliations and per-visit roles to MUC roles', () => {
    expect(Object.values(ParticipantRole).map((r) => [r, mucChangeFor(r)])).toEqual([
      [ParticipantRole.Banned, { kind: 'affiliation', affiliation: 'outcast' }],
      [ParticipantRole.Visitor, { kind: 'role', role: 'visitor' }],
      [ParticipantRole.Member, { kind: 'affiliation', affiliation: 'member' }],
      [ParticipantRole.Moderator, { kind: 'role', role: 'moderator' }],
      [ParticipantRole.Admin, { kind: 'affiliation', affiliation: 'admin' }],
      [ParticipantRole.Owner, { kind: 'affiliation', affiliation: 'owner' }],
    ]);
  });

  it('round-trips through participantRoleOf', () => {
    for (const role of Object.values(ParticipantRole)) {
      const c = mucChangeFor(role);
      const back =
        c.kind === 'affiliation' ? participantRoleOf(c.affiliation, 'participant') : participantRoleOf('none', c.role);
      expect(back).toBe(role);
    }
  });
});
