/**
 * Who may delete or edit which message (draft-ietf-mimi-room-policy-03 §8.1.4 message
 * capabilities), for follower submissions the hub admits. Pure.
 *
 * - a delete (content-08 §5.6) of one's own message needs canDeleteOwnMessage; of someone
 *   else's, canDeleteOtherMessage (a moderator's delete);
 * - an unlike (§5.7) of one's own reaction needs canDeleteOwnReaction; of someone else's,
 *   canDeleteOtherReaction;
 * - an edit (§5.5) is only ever of one's own message (there is no capability to edit another's).
 * A reference to a message the room does not know is left to the legacy platform to refuse.
 */
import type { UserUri } from '../common/ids';
import { Capability, type Role, roleHas } from '../mimi/room-state';
import type { Participant } from '../mls';
import { type MimiContent, toHex } from '../mimi/content';
import { type ContentKind, contentKind } from './content-mapping';
import { type PolicyDecision, participantOf } from './room-policy';

export function mayChangeMessage(
  roles: readonly Role[],
  participants: readonly Participant[],
  change: { readonly kind: ContentKind; readonly sender: UserUri; readonly targetSender: UserUri | undefined },
): PolicyDecision {
  const { kind, sender, targetSender } = change;
  if (targetSender === undefined || !['delete', 'unlike', 'edit'].includes(kind)) return { allowed: true };
  const own = targetSender === sender;
  if (kind === 'edit') {
    return own ? { allowed: true } : { allowed: false, reason: `${sender} may not edit a message of ${targetSender}` };
  }
  const capability =
    kind === 'delete'
      ? own
        ? Capability.canDeleteOwnMessage
        : Capability.canDeleteOtherMessage
      : own
        ? Capability.canDeleteOwnReaction
        : Capability.canDeleteOtherReaction;
  const roleIndex = participantOf(participants, sender)?.roleIndex;
  if (roleIndex !== undefined && roleHas(roles, roleIndex, capability)) return { allowed: true };
  const name = Object.entries(Capability).find(([, v]) => v === capability)?.[0] ?? String(capability);
  const what = kind === 'delete' ? 'message' : 'reaction';
  const reason = own
    ? `${sender} may not delete their own ${what} (no ${name})`
    : `${sender} may not delete a ${what} of ${targetSender} (no ${name})`;
  return { allowed: false, reason };
}

/**
 * `mayChangeMessage` for received content: its kind and the message it `replaces` (whose sender
 * `senderOf` looks up by hex message ID). Content that changes no message is allowed.
 */
export async function authoriseMessageChange(
  content: MimiContent,
  sender: UserUri,
  room: {
    readonly roles: () => Promise<readonly Role[]>;
    readonly participants: () => Promise<readonly Participant[]>;
    readonly senderOf: (messageIdHex: string) => Promise<UserUri | undefined>;
  },
): Promise<PolicyDecision> {
  const kind = contentKind(content);
  if (content.replaces === null || !['delete', 'unlike', 'edit'].includes(kind)) return { allowed: true };
  const targetSender = await room.senderOf(toHex(content.replaces));
  return mayChangeMessage(await room.roles(), await room.participants(), { kind, sender, targetSender });
}
