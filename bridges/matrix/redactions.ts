/**
 * Deletes and unlikes from MIMI are redactions by the author's ghost. A moderator's delete of
 * someone else's message (content-08 §5.6 by a user whose role has canDeleteOtherMessage, which
 * the hub checked against the room's roles_list) may need more power than the ghost has on
 * Matrix: then the bot, which holds the room's power, redacts it, naming the ghost in the reason.
 */
import type { Intent } from 'matrix-appservice-bridge';
import { matrixStatus } from './matrix-errors';

/** What a redaction needs: the two clients and the path. */
export interface RedactionRequest {
  readonly roomId: string;
  readonly target: string;
  readonly txnId: string;
  readonly ghost: { readonly id: string; readonly intent: Intent };
  readonly bot: Intent;
}

function path(roomId: string, target: string, txnId: string): string {
  return `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/redact/${encodeURIComponent(target)}/${encodeURIComponent(txnId)}`;
}

/** Redact as the ghost, or as the bot when the homeserver refuses the ghost (403). Resolves with the redaction's event ID. */
export async function redactAsGhostOrBot(r: RedactionRequest): Promise<string> {
  try {
    const res = (await r.ghost.intent.matrixClient.doRequest('PUT', path(r.roomId, r.target, r.txnId), null, {})) as {
      event_id: string;
    };
    return res.event_id;
  } catch (e) {
    if (matrixStatus(e) !== 403) throw e;
    const res = (await r.bot.matrixClient.doRequest('PUT', path(r.roomId, r.target, `${r.txnId}.bot`), null, {
      reason: `deleted by ${r.ghost.id} (a moderator of the MIMI room)`,
    })) as { event_id: string };
    return res.event_id;
  }
}
