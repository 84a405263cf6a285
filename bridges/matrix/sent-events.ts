/**
 * Finding a ghost's earlier send whose outcome the bridge never learnt (issue #14, RELIABILITY
 * T48). A send is `PUT /rooms/{id}/send/{type}/{txnId}` and the homeserver de-duplicates a repeated
 * transaction ID, but Synapse keeps an appservice's transaction IDs in memory only (an appservice
 * sends without a device, so nothing is persisted) and forgets them when it restarts: a retry
 * after a lost answer and a restart would post a second copy. So every event the bridge sends
 * with a transaction ID carries it in its content, under TXN_MARKER, and before a send whose
 * earlier attempt may have landed (outbound-posts.ts) the bridge reads the ghost's latest events
 * in the room and takes the one carrying that transaction ID instead of sending again.
 *
 * The search is bounded: ONE `GET /rooms/{id}/messages?dir=b`, from the end of the room, filtered
 * (`senders`: the ghost; `types`: m.room.message and m.reaction) to the ghost's latest
 * SENT_LOOKUP_LIMIT events. The core retries soon, and in order (a room's later messages wait for
 * a failed one), so an earlier attempt that landed is among the ghost's latest events; one further
 * back is not found, and is posted again. A redacted event has lost its content, marker included:
 * a post deleted before its retry would be posted again.
 */
/** Content key of an event the bridge sent: the transaction ID it was sent with. */
export const TXN_MARKER = 'org.mimi_gateway.txn_id';

/** How many of the ghost's latest events in the room the search reads. */
export const SENT_LOOKUP_LIMIT = 100;

/** The event types the bridge sends with a transaction ID and a marker (not redactions). */
const MARKED_TYPES = ['m.room.message', 'm.reaction'];

/** What the search needs of a client (matrix-bot-sdk's `doRequest`, acting as the ghost). */
interface RequestClient {
  doRequest(method: string, path: string, qs?: unknown, body?: unknown): Promise<unknown>;
}

/** `content` with the transaction ID it is sent with. */
export function withTxnMarker(content: Record<string, unknown>, txnId: string): Record<string, unknown> {
  return { ...content, [TXN_MARKER]: txnId };
}

/**
 * Transaction ID → event ID of the latest events `sender` (a ghost of ours) sent into `roomId`
 * carrying the marker (the newest event per transaction ID, should one have been sent twice).
 * @throws the client's error (the caller does not send when it cannot look)
 */
export async function findSentEvents(
  client: RequestClient,
  roomId: string,
  sender: string,
  limit = SENT_LOOKUP_LIMIT,
): Promise<Map<string, string>> {
  const filter = JSON.stringify({ senders: [sender], types: MARKED_TYPES });
  const res = (await client.doRequest('GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages`, {
    dir: 'b',
    limit,
    filter,
  })) as { chunk?: readonly { event_id?: unknown; sender?: unknown; content?: Record<string, unknown> }[] };
  const found = new Map<string, string>();
  for (const ev of res.chunk ?? []) {
    const txnId = ev.content?.[TXN_MARKER];
    // The filter is the homeserver's; the sender is checked again here, so that nobody else's
    // event (a native user copying the marker) can stand for ours.
    if (typeof txnId !== 'string' || typeof ev.event_id !== 'string') continue;
    if (ev.sender !== sender) continue;
    if (!found.has(txnId)) found.set(txnId, ev.event_id);
  }
  return found;
}
