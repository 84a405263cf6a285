import { SENT_LOOKUP_LIMIT, TXN_MARKER, findSentEvents, withTxnMarker } from './sent-events';

/** The search for a ghost's earlier sends (sent-events.ts), against a scripted client. */

const GHOST = '@_mimi_carol:hs.test';
const ROOM = '!r:hs.test';

function clientAnswering(chunk: unknown[]) {
  const requests: { method: string; path: string; qs: Record<string, unknown> }[] = [];
  return {
    requests,
    doRequest: (method: string, path: string, qs?: unknown) => {
      requests.push({ method, path, qs: qs as Record<string, unknown> });
      return Promise.resolve({ chunk });
    },
  };
}

describe(findSentEvents.name, () => {
  it('reads ONE page from the end of the room, filtered to the ghost’s messages and reactions, SENT_LOOKUP_LIMIT long', async () => {
    const client = clientAnswering([]);
    await findSentEvents(client, ROOM, GHOST);
    expect(client.requests).toEqual([
      {
        method: 'GET',
        path: `/_matrix/client/v3/rooms/${encodeURIComponent(ROOM)}/messages`,
        qs: { dir: 'b', limit: SENT_LOOKUP_LIMIT, filter: expect.any(String) },
      },
    ]);
    expect(JSON.parse(client.requests[0]!.qs['filter'] as string)).toEqual({
      senders: [GHOST],
      types: ['m.room.message', 'm.reaction'],
    });
    expect(SENT_LOOKUP_LIMIT).toBe(100);
  });

  it('maps each marked event of the ghost to its transaction ID; unmarked ones and other senders’ are not taken', async () => {
    const client = clientAnswering([
      { event_id: '$new', sender: GHOST, content: { body: 'b', [TXN_MARKER]: 'mimi.post.b' } },
      { event_id: '$plain', sender: GHOST, content: { body: 'no marker' } },
      // A native user copying the marker (the homeserver's filter should not even return it).
      { event_id: '$spoof', sender: '@alice:hs.test', content: { body: 'x', [TXN_MARKER]: 'mimi.post.a' } },
      { event_id: '$old', sender: GHOST, content: { body: 'a', [TXN_MARKER]: 'mimi.post.a' } },
      { event_id: '$older-copy', sender: GHOST, content: { body: 'b', [TXN_MARKER]: 'mimi.post.b' } },
      { sender: GHOST, content: { [TXN_MARKER]: 'no event id' } },
    ]);
    const found = await findSentEvents(client, ROOM, GHOST);
    expect([...found]).toEqual([
      ['mimi.post.b', '$new'],
      ['mimi.post.a', '$old'],
    ]);
  });

  it('passes the homeserver’s error on (the caller then does not send)', async () => {
    const client = { doRequest: () => Promise.reject(Object.assign(new Error('down'), { statusCode: 502 })) };
    await expect(findSentEvents(client, ROOM, GHOST)).rejects.toMatchObject({ statusCode: 502 });
  });
});

describe(withTxnMarker.name, () => {
  it('adds the transaction ID under the namespaced key and keeps the rest of the content', () => {
    const content = { msgtype: 'm.text', body: 'hi' };
    expect(withTxnMarker(content, 'mimi.post.x')).toEqual({ ...content, 'org.mimi_gateway.txn_id': 'mimi.post.x' });
    expect(content).not.toHaveProperty(TXN_MARKER);
  });
});
