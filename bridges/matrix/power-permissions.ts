/**
 * Matrix power levels (client-server spec "m.room.power_levels") → the port's `RoomPermissions`,
 * from which the core writes the MIMI roles_list (room-policy-03 §3). A role may do an action
 * when every user of that role has the level it needs: members from the level to post, moderators
 * from 50, admins from 75, owners from 100 (`roleForPowerLevel`); visitors (below the posting
 * level) never. Role changes go up to one's own level, as in Matrix (`highestGrant` left out).
 */
import { ParticipantRole, type RoomAction, type RoomPermissions } from '../../src/ports';

/** An m.room.power_levels content (the mapper's `PowerLevelsContent`). */
type Levels = Readonly<Record<string, unknown>>;

function level(v: unknown, fallback: number): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d{1,15}$/.test(v)) return Number(v);
  return fallback;
}

/** The level each action needs (spec defaults: invite 0, kick/ban/redact 50, state_default 50, or 0 without levels). */
export function actionLevels(pl: Levels | undefined): Record<RoomAction, number> {
  const stateDefault = pl === undefined ? 0 : level(pl['state_default'], 50);
  const events = (typeof pl?.['events'] === 'object' && pl['events'] !== null ? pl['events'] : {}) as Levels;
  const state = (type: string): number => level(events[type], stateDefault);
  return {
    send: level(events['m.room.message'], level(pl?.['events_default'], 0)),
    invite: level(pl?.['invite'], 0),
    kick: level(pl?.['kick'], 50),
    ban: level(pl?.['ban'], 50),
    redact: level(pl?.['redact'], 50),
    changeName: state('m.room.name'),
    changeTopic: state('m.room.topic'),
    changeAvatar: state('m.room.avatar'),
    changeRoles: state('m.room.power_levels'),
    changeJoinRule: state('m.room.join_rules'),
  };
}

/** The least role all of whose users reach `needed`, or undefined when no role does. */
function leastRoleFor(needed: number, sendLevel: number): ParticipantRole | undefined {
  const floors: readonly [ParticipantRole, number][] = [
    [ParticipantRole.Member, sendLevel],
    [ParticipantRole.Moderator, 50],
    [ParticipantRole.Admin, 75],
    [ParticipantRole.Owner, 100],
  ];
  // A member's level lies between the posting level and 49; with posting at 50 or more there are no members.
  return floors.find(([role, floor]) => floor >= needed && (role !== ParticipantRole.Member || floor < 50))?.[0];
}

export function permissionsFromPowerLevels(pl: Levels | undefined): RoomPermissions {
  const levels = actionLevels(pl);
  const minimumRole: Partial<Record<RoomAction, ParticipantRole>> = {};
  for (const [action, needed] of Object.entries(levels) as [RoomAction, number][]) {
    const role = leastRoleFor(needed, levels.send);
    if (role !== undefined) minimumRole[action] = role;
  }
  return { minimumRole };
}

/** Whether two power-levels contents give different permissions (a `roomPolicy` event is due). */
export function permissionsChanged(prev: Levels | undefined, next: Levels): boolean {
  return JSON.stringify(permissionsFromPowerLevels(prev)) !== JSON.stringify(permissionsFromPowerLevels(next));
}
