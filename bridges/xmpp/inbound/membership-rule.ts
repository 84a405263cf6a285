/**
 * Membership is membership, presence is presence (issue 13, item 6). XEP-0045 uses one
 * `unavailable` presence for "my client went offline", "I closed the room" and "I left for good",
 * so an occupant's unavailable presence alone never ends their MIMI membership. What does:
 *
 * - a removal the MUC itself announces: kick (307), ban (301), an affiliation change that removed
 *   them (321, e.g. to none/outcast in a members-only room), the room becoming members-only (322),
 *   an error kick (333);
 * - an explicit `!mimi leave` from the occupant in the room (groupchat.ts).
 *
 * Anything else (going offline, closing the room, a bridge restart that finds them absent) is
 * presence: they stay a participant, and coming back needs no new invite and shows nothing on the
 * other side. bridges/xmpp/README.md ("Membership and presence") gives the reasons.
 */
import type { Membership } from '../../../src/ports';
import { MUC_STATUS, type ParsedMucPresence } from '../protocol/stanzas';

/** Status codes of a presence that removed the occupant (kick, affiliation change...); a ban is apart. */
export const REMOVAL_STATUS = [
  MUC_STATUS.KICKED,
  MUC_STATUS.AFFILIATION_CHANGED,
  MUC_STATUS.MEMBERS_ONLY,
  MUC_STATUS.ERROR_KICK,
] as const;

/** The groupchat body with which a native occupant leaves the MIMI room (case and spaces aside). */
const LEAVE_COMMAND = '!mimi leave';

/**
 * The membership change an occupant's unavailable presence means: `ban`, `kick`, or undefined
 * when it is only presence (offline, out of the room for now) and the occupant stays a participant.
 */
export function membershipEnded(p: ParsedMucPresence): Exclude<Membership, 'join' | 'invite' | 'leave'> | undefined {
  if (p.type !== 'unavailable') return undefined;
  if (p.statusCodes.includes(MUC_STATUS.BANNED)) return 'ban';
  if (REMOVAL_STATUS.some((c) => p.statusCodes.includes(c))) return 'kick';
  return undefined;
}

/** Whether a groupchat body is the explicit leave command. */
export function isLeaveCommand(body: string | undefined): boolean {
  return body !== undefined && body.trim().replace(/\s+/g, ' ').toLowerCase() === LEAVE_COMMAND;
}
