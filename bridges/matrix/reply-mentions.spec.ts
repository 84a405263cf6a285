import { ReplyMentions } from './reply-mentions';

const OUT = {
  type: 'm.room.message' as const,
  content: { msgtype: 'm.text', body: 'yes', 'm.mentions': { user_ids: [] } },
};
const reply = {
  type: 'post' as const,
  body: { kind: 'text' as const, text: 'yes' },
  inReplyTo: { platformEventId: '$q' },
};

describe(ReplyMentions.name, () => {
  it('mentions the author of the replied-to event, read from the homeserver when not seen before', async () => {
    const read = jest.fn(async () => '@alice:hs');
    const out = await new ReplyMentions(read).addTo('!r:hs', '@_mimi_bob:hs', reply, OUT);
    expect(out.content['m.mentions']).toEqual({ user_ids: ['@alice:hs'] });
    expect(read).toHaveBeenCalledWith('!r:hs', '$q');
  });

  it('uses a sender remembered from the transactions, and keeps the mentions already there', async () => {
    const read = jest.fn(async () => undefined);
    const m = new ReplyMentions(read);
    m.remember('$q', '@carol:hs');
    const out = await m.addTo('!r:hs', '@_mimi_bob:hs', reply, {
      ...OUT,
      content: { ...OUT.content, 'm.mentions': { user_ids: ['@dave:hs'] } },
    });
    expect(out.content['m.mentions']).toEqual({ user_ids: ['@dave:hs', '@carol:hs'] });
    expect(read).not.toHaveBeenCalled();
  });

  it('adds nothing to a reply to oneself, to a message that is no reply, or when the sender cannot be read', async () => {
    const m = new ReplyMentions(async () => undefined);
    m.remember('$mine', '@_mimi_bob:hs');
    const toSelf = { ...reply, inReplyTo: { platformEventId: '$mine' } };
    expect(await m.addTo('!r:hs', '@_mimi_bob:hs', toSelf, OUT)).toBe(OUT);
    expect(await m.addTo('!r:hs', '@_mimi_bob:hs', { type: 'post', body: reply.body }, OUT)).toBe(OUT);
    expect(await m.addTo('!r:hs', '@_mimi_bob:hs', reply, OUT)).toBe(OUT);
  });
});
