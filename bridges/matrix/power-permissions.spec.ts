import { ParticipantRole } from '../../src/ports';
import { actionLevels, permissionsChanged, permissionsFromPowerLevels } from './power-permissions';

describe(permissionsFromPowerLevels.name, () => {
  it('applies the spec defaults: invite 0, kick/ban/redact 50, state events 50 (0 without a levels event)', () => {
    expect(actionLevels({})).toEqual({
      send: 0,
      invite: 0,
      kick: 50,
      ban: 50,
      redact: 50,
      changeName: 50,
      changeTopic: 50,
      changeAvatar: 50,
      changeRoles: 50,
      changeJoinRule: 50,
    });
    expect(actionLevels(undefined).changeName).toBe(0);
  });

  it('maps the usual room: members post and invite, moderators moderate', () => {
    const p = permissionsFromPowerLevels({ users_default: 0, events: { 'm.room.power_levels': 100 } }).minimumRole;
    expect([p.send, p.invite]).toEqual([ParticipantRole.Member, ParticipantRole.Member]);
    const moderation = [p.kick, p.ban, p.redact, p.changeName, p.changeTopic, p.changeAvatar, p.changeJoinRule];
    expect(new Set(moderation)).toEqual(new Set([ParticipantRole.Moderator]));
    expect(p.changeRoles).toBe(ParticipantRole.Owner);
  });

  it('gives an action to the least role all of whose users reach its level, and to none above 100', () => {
    const p = permissionsFromPowerLevels({
      invite: 10,
      kick: 60,
      ban: 75,
      redact: 101,
      events: { 'm.room.topic': 0, 'm.room.message': 5 },
    });
    // Members sit between the posting level (5) and 49: some of them are below 10.
    expect(p.minimumRole.invite).toBe(ParticipantRole.Moderator);
    expect(p.minimumRole.kick).toBe(ParticipantRole.Admin);
    expect(p.minimumRole.ban).toBe(ParticipantRole.Admin);
    expect(p.minimumRole.redact).toBeUndefined();
    expect(p.minimumRole.changeTopic).toBe(ParticipantRole.Member);
    expect(p.minimumRole.send).toBe(ParticipantRole.Member);
  });

  it('has no member role when posting needs a moderator', () => {
    const p = permissionsFromPowerLevels({ events_default: 50 });
    expect(p.minimumRole.send).toBe(ParticipantRole.Moderator);
    expect(p.minimumRole.invite).toBe(ParticipantRole.Moderator);
  });

  it('tells whether two levels contents differ in permissions, not in users', () => {
    expect(permissionsChanged({ users: { '@a:x': 100 } }, { users: { '@a:x': 50 } })).toBe(false);
    expect(permissionsChanged({ kick: 50 }, { kick: 75 })).toBe(true);
  });
});
