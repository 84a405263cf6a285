import type { InboundEvent, Membership } from '../../src/ports';
import type { MappedEvent, MapperContext, MatrixEvent } from './matrix-event.core';
import { legacyUser, MalformedEventError, roomRef, str, userRef } from './matrix-event.core';

/** m.room.member → a participant-list change (invite, join, leave, kick, ban, unban). */
export function mapMembership(ev: MatrixEvent, ctx: MapperContext): MappedEvent {
  const target = ev.state_key;
  if (target === undefined || !target.startsWith('@')) throw new MalformedEventError('m.room.member without a user');
  const membership = str(ev.content['membership']);
  const prev = str(ev.unsigned?.prev_content?.['membership']);
  if (target === ctx.ids.botUserId) {
    return membership === 'invite' ? { kind: 'botInvite' } : { kind: 'ignored', reason: 'bot membership' };
  }
  const self = ev.sender === target;
  let m: Membership | undefined;
  switch (membership) {
    case 'invite':
      m = prev === 'invite' ? undefined : 'invite';
      break;
    case 'join':
      // A join after a join only changes the profile (display name, avatar).
      m = prev === 'join' ? undefined : 'join';
      break;
    case 'leave':
      if (prev === 'ban') m = 'unban';
      else if (prev === 'leave') m = undefined;
      else m = self ? 'leave' : 'kick';
      break;
    case 'ban':
      m = prev === 'ban' ? undefined : 'ban';
      break;
    case undefined:
    default:
      m = undefined; // knock, or an unknown membership
  }
  if (m === undefined) return { kind: 'ignored', reason: `membership ${prev ?? 'none'} → ${membership ?? 'none'}` };
  const displayName = membership === 'join' || membership === 'invite' ? str(ev.content['displayname']) : undefined;
  const reason = str(ev.content['reason']);
  const event: InboundEvent = {
    kind: 'membership',
    room: roomRef(ev.room_id),
    platformEventId: ev.event_id,
    user: userRef(ctx, ev.room_id, target, displayName),
    membership: m,
    ...(self ? {} : { by: legacyUser(ev.sender) }),
    ...(reason !== undefined ? { reason } : {}),
    timestamp: ev.origin_server_ts,
  };
  return { kind: 'inbound', events: [event] };
}
