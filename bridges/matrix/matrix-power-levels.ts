import { type InboundEvent, ParticipantRole } from '../../src/ports';
import {
  isRecord,
  legacyUser,
  type MapperContext,
  type MatrixEvent,
  type PowerLevelsContent,
  roomRef,
  str,
  userRef,
} from './matrix-event.core';
import { permissionsChanged, permissionsFromPowerLevels } from './power-permissions';

/** Roles ↔ Matrix power levels ("m.room.power_levels"; room version 12's privileged creators). */

/** Power level written for each role (setRole); read back by roleForPowerLevel. */
const POWER_LEVEL_FOR_ROLE: Readonly<Record<Exclude<ParticipantRole, ParticipantRole.Banned>, number>> = {
  [ParticipantRole.Owner]: 100,
  [ParticipantRole.Admin]: 75,
  [ParticipantRole.Moderator]: 50,
  [ParticipantRole.Member]: 0,
  [ParticipantRole.Visitor]: -1,
};

function int(v: unknown, fallback: number): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  // Older rooms may carry levels as strings; the spec's grammar is an integer.
  if (typeof v === 'string' && /^-?\d{1,15}$/.test(v)) return Number(v);
  return fallback;
}

/**
 * Room version 12 ("privileged creators"): the creator and `additional_creators` of m.room.create
 * have an infinite power level and never appear in m.room.power_levels. Empty for older versions.
 */
export function creatorsOf(create: { sender: string; content: Record<string, unknown> } | undefined): Set<string> {
  if (!create) return new Set();
  const version = str(create.content['room_version']) ?? '1';
  const privileged = (/^\d+$/.test(version) && Number(version) >= 12) || version === 'org.matrix.hydra.11';
  if (!privileged) return new Set();
  const extra = Array.isArray(create.content['additional_creators']) ? create.content['additional_creators'] : [];
  return new Set([create.sender, ...extra.filter((x): x is string => typeof x === 'string')]);
}

/** The level a user has in a power-levels content (spec defaults: users_default 0; creators of v12 rooms: infinite). */
export function powerLevelOf(pl: PowerLevelsContent | undefined, mxid: string, creators?: ReadonlySet<string>): number {
  if (creators?.has(mxid)) return Number.POSITIVE_INFINITY;
  if (!pl) return 0;
  const users = isRecord(pl.users) ? pl.users : {};
  return int(users[mxid], int(pl.users_default, 0));
}

/** The level needed to send messages (events['m.room.message'] or events_default, spec default 0). */
export function sendLevelOf(pl: PowerLevelsContent | undefined): number {
  if (!pl) return 0;
  const events = isRecord(pl.events) ? pl.events : {};
  return int(events['m.room.message'], int(pl.events_default, 0));
}

/**
 * Role for a power level: ≥100 owner, ≥75 admin, ≥50 moderator, below the level needed to
 * post visitor, otherwise member.
 */
export function roleForPowerLevel(level: number, sendLevel: number): ParticipantRole {
  if (level >= 100) return ParticipantRole.Owner;
  if (level >= 75) return ParticipantRole.Admin;
  if (level >= 50) return ParticipantRole.Moderator;
  if (level < sendLevel) return ParticipantRole.Visitor;
  return ParticipantRole.Member;
}

/** The power level to give for a role, given the room's levels (a visitor sits just below posting, a member at it). */
export function powerLevelForRole(
  role: Exclude<ParticipantRole, ParticipantRole.Banned>,
  pl?: PowerLevelsContent,
): number {
  if (role === ParticipantRole.Visitor) return Math.min(-1, sendLevelOf(pl) - 1);
  // A member must be able to post, even where posting needs more than the default level.
  if (role === ParticipantRole.Member) return Math.min(49, Math.max(0, sendLevelOf(pl)));
  return POWER_LEVEL_FOR_ROLE[role];
}

/**
 * Role changes carried by a power-levels event: one InboundEvent per user whose role differs
 * from `previous` (the event's prev_content, or the last levels the bridge saw). Users are those
 * named in either content; a change of users_default/events_default is reported for them only.
 * Each gets platformEventId `<event id>#<user id>`, since one Matrix event yields several.
 */
export function mapPowerLevels(ev: MatrixEvent, ctx: MapperContext, previous?: PowerLevelsContent): InboundEvent[] {
  const next = ev.content as PowerLevelsContent;
  const prev =
    previous ?? (isRecord(ev.unsigned?.prev_content) ? (ev.unsigned.prev_content as PowerLevelsContent) : undefined);
  const users = new Set<string>([
    ...Object.keys(isRecord(next.users) ? next.users : {}),
    ...Object.keys(isRecord(prev?.users) ? prev.users : {}),
  ]);
  const out: InboundEvent[] = [];
  for (const mxid of [...users].sort()) {
    if (mxid === ctx.ids.botUserId || !mxid.startsWith('@')) continue;
    const role = roleForPowerLevel(powerLevelOf(next, mxid), sendLevelOf(next));
    if (prev !== undefined && roleForPowerLevel(powerLevelOf(prev, mxid), sendLevelOf(prev)) === role) continue;
    out.push({
      kind: 'role',
      room: roomRef(ev.room_id),
      platformEventId: `${ev.event_id}#${mxid}`,
      user: userRef(ctx, ev.room_id, mxid),
      role,
      by: legacyUser(ev.sender),
      timestamp: ev.origin_server_ts,
    });
  }
  // What each role may do changed too (or is not known to have stayed): the room's roles_list follows.
  if (prev === undefined || permissionsChanged(prev, next)) {
    out.push({
      kind: 'roomPolicy',
      room: roomRef(ev.room_id),
      platformEventId: `${ev.event_id}#permissions`,
      permissions: permissionsFromPowerLevels(next),
      timestamp: ev.origin_server_ts,
    });
  }
  return out;
}
