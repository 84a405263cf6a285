import { NS } from '../protocol/namespaces';
import type { ParsedGroupchat } from '../protocol/stanzas';
import { mapInbound } from './message-mapping';
import {
  findMentions,
  markMentions,
  type MentionLookup,
  occupantUri,
  parseXmppUri,
  takeMentionMarks,
} from './mentions';
import { markdownToStyling } from './styling';

const ROOM = 'lounge@conference.example';
const ALICE_URI = 'mimi://a.example/u/alice';
const BOB_URI = 'mimi://b.example/u/xmpp:bob@b.example';

/** MIMI Markdown → the XMPP body and its XEP-0372 mentions, as the post builder does it. */
function outbound(markdown: string, nicks: Record<string, string>, prefix = ''): ReturnType<typeof takeMentionMarks> {
  const marked = markMentions(markdown, (uri) => nicks[uri], ROOM);
  return takeMentionMarks(prefix + markdownToStyling(marked.markdown), marked.uris);
}

const LOOKUP: MentionLookup = {
  byNick: (nick) => ({ Alice: ALICE_URI, bob: BOB_URI, 'Alice L.': ALICE_URI })[nick],
  byJid: (jid) => (jid === 'bob@b.example' ? BOB_URI : undefined),
  nicks: () => ['Alice', 'bob', 'Alice L.'],
};

describe('mentions, MIMI → XMPP', () => {
  it('writes a mention of an occupant as their nick, with a reference to room/nick in code points', () => {
    const out = outbound(`🎉 Hi [@Alice Smith](${ALICE_URI}), see **this**`, { [ALICE_URI]: 'Alice' });
    expect(out.body).toBe('🎉 Hi Alice, see *this*');
    expect(out.mentions).toEqual([{ begin: 5, end: 10, uri: `xmpp:${ROOM}/Alice` }]);
  });

  it('counts offsets in the finished body, after a reply quote put in front', () => {
    const out = outbound(
      `[a](${ALICE_URI}) and [b](${BOB_URI})`,
      { [ALICE_URI]: 'Alice', [BOB_URI]: 'b*o_b' },
      '> x\n',
    );
    expect(out.body).toBe('> x\nAlice and b*o_b');
    expect(out.mentions).toEqual([
      { begin: 4, end: 9, uri: `xmpp:${ROOM}/Alice` },
      { begin: 14, end: 19, uri: `xmpp:${ROOM}/b*o_b` },
    ]);
  });

  it('keeps the link text of a user with no nick in the room, and no reference', () => {
    const out = outbound(`ask [@Carol](mimi://c.example/u/carol)`, {});
    expect(out).toEqual({ body: 'ask @Carol', mentions: [] });
  });

  it('drops marker characters that came in the text, so a sender cannot forge a reference', () => {
    const out = outbound('x\uE0100\uE012y\uE011 z', {});
    expect(out).toEqual({ body: 'x0y z', mentions: [] });
  });

  it('percent-encodes a nick where an IRI needs it, and reads it back', () => {
    const uri = occupantUri(ROOM, 'Alice L. ?');
    expect(uri).toBe(`xmpp:${ROOM}/Alice%20L.%20%3F`);
    expect(parseXmppUri(uri, ROOM)).toEqual({ nick: 'Alice L. ?' });
    expect(parseXmppUri('xmpp:Bob@B.example', ROOM)).toEqual({ jid: 'bob@b.example' });
    expect(parseXmppUri('https://x', ROOM)).toBeUndefined();
  });
});

describe('mentions, XMPP → MIMI', () => {
  const ref = (uri: string, begin: number, end: number) => ({ type: 'mention', uri, begin, end });

  it('reads XEP-0372 mentions by room nick and by bare JID, and ignores other or out-of-range references', () => {
    const body = 'hey Alice and bob';
    expect(
      findMentions(
        body,
        [
          ref(`xmpp:${ROOM}/Alice`, 4, 9),
          ref('xmpp:bob@b.example', 14, 17),
          { type: 'data', uri: `xmpp:${ROOM}/Alice`, begin: 0, end: 3 },
          ref(`xmpp:${ROOM}/Alice`, 10, 40),
          ref(`xmpp:${ROOM}/nobody`, 0, 3),
        ],
        ROOM,
        LOOKUP,
      ),
    ).toEqual([
      { begin: 4, end: 9, userUri: ALICE_URI },
      { begin: 14, end: 17, userUri: BOB_URI },
    ]);
  });

  it('reads a leading `nick: ` (the longest nick that fits) once, even when a reference names it too', () => {
    expect(findMentions('Alice L.: hi', [], ROOM, LOOKUP)).toEqual([{ begin: 0, end: 8, userUri: ALICE_URI }]);
    expect(findMentions('bob, hi', [ref(`xmpp:${ROOM}/bob`, 0, 3)], ROOM, LOOKUP)).toEqual([
      { begin: 0, end: 3, userUri: BOB_URI },
    ]);
    expect(findMentions('Alicexyz: hi', [], ROOM, LOOKUP)).toEqual([]);
  });

  it('does not read the sender’s own nick at the start as a mention ("bob, I think…" from bob)', () => {
    expect(findMentions('bob, I think so', [], ROOM, LOOKUP, 'bob')).toEqual([]);
    expect(findMentions('bob, I think so', [], ROOM, LOOKUP, 'Alice L.')).toEqual([
      { begin: 0, end: 3, userUri: BOB_URI },
    ]);
  });

  const parsed = (p: Partial<ParsedGroupchat>): ParsedGroupchat => ({
    room: ROOM,
    nick: 'carol',
    to: 'bot@m/mimi',
    fallbacks: [],
    files: [],
    references: [],
    ...p,
  });
  const lookups = {
    byMessageId: (id: string) => id,
    byOwnMessageId: (id: string) => id,
    byStanzaId: (id: string) => id,
    isAllowedUrl: () => false,
  };

  it('links a mention in the Markdown of a plain body, escaping the rest', () => {
    const content = mapInbound(parsed({ body: 'Alice: 1. look [here]' }), { ...lookups, mentions: LOOKUP });
    expect(content).toEqual({
      kind: 'action',
      action: {
        type: 'post',
        body: { kind: 'text', text: 'Alice: 1. look [here]', markdown: `[Alice](${ALICE_URI}): 1. look \\[here\\]` },
      },
    });
  });

  it('shifts mentions past a reply quote and an emote prefix, and keeps styling', () => {
    const quote = '> bob: hi\n';
    const body = `${quote}/me waves at Alice *warmly*`;
    const content = mapInbound(
      parsed({
        body,
        reply: { id: 's1', to: `${ROOM}/bob` },
        fallbacks: [{ for: NS.REPLY, start: 0, end: [...quote].length }],
        references: [ref(`xmpp:${ROOM}/Alice`, 23, 28), ref(`xmpp:${ROOM}/bob`, 2, 5)],
      }),
      { ...lookups, mentions: LOOKUP },
    );
    expect(content).toEqual({
      kind: 'action',
      action: {
        type: 'post',
        inReplyTo: { platformEventId: 's1' },
        body: { kind: 'emote', text: 'waves at Alice *warmly*', markdown: `waves at [Alice](${ALICE_URI}) **warmly**` },
      },
    });
  });

  it('gives no Markdown to a plain body without mentions (it stays text/plain)', () => {
    const content = mapInbound(parsed({ body: 'nobody: here' }), { ...lookups, mentions: LOOKUP });
    expect(content).toEqual({ kind: 'action', action: { type: 'post', body: { kind: 'text', text: 'nobody: here' } } });
  });
});
