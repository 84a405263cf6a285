import fc from 'fast-check';
import { Parser } from '@xmpp/xml';
import { CodecError } from '../../../../src/common/errors';
import { NS } from '../namespaces';
import {
  buildAdminSet,
  buildErrorReply,
  buildGroupchat,
  buildMamQuery,
  buildMucJoin,
  buildMucLeave,
  buildNickChange,
  buildOwnerConfigSubmit,
  buildPing,
  buildPrivateMessage,
  parseDiscoInfo,
  parseGroupchat,
  parseMamFin,
  parseMamResult,
  parseMucPresence,
  parseStanzaError,
  RETRACTION_FALLBACK_BODY,
  stripFallback,
} from './index';
import { parseXml } from '../xml';

const ROOM = 'lounge@conference.example';
const PUPPET = 'dave=follower.example@mimi.example/mimi';
const ORIGIN_ID = 'mimi-AAAAAAAAAAAAAAAAAAAAAA';
const STANZA_ID = 'sid-42';
const SHA256 = new Uint8Array(32).fill(7);

describe('buildGroupchat', () => {
  it('builds a plain message with id = origin-id', () => {
    expect(buildGroupchat({ from: PUPPET, to: ROOM, id: ORIGIN_ID, body: 'hi <b>&' }).toString()).toBe(
      `<message from="${PUPPET}" to="${ROOM}" type="groupchat" id="${ORIGIN_ID}"><body>hi &lt;b&gt;&amp;</body>` +
        `<origin-id xmlns="urn:xmpp:sid:0" id="${ORIGIN_ID}"/></message>`,
    );
  });

  it('builds a correction (XEP-0308) with the relay nick (XEP-0172)', () => {
    expect(
      buildGroupchat({ to: ROOM, id: ORIGIN_ID, body: 'Dave: fixed', nick: 'Dave', replaceId: 'orig-1' }).toString(),
    ).toBe(
      `<message to="${ROOM}" type="groupchat" id="${ORIGIN_ID}"><body>Dave: fixed</body>` +
        '<nick xmlns="http://jabber.org/protocol/nick">Dave</nick>' +
        '<replace xmlns="urn:xmpp:message-correct:0" id="orig-1"/>' +
        `<origin-id xmlns="urn:xmpp:sid:0" id="${ORIGIN_ID}"/></message>`,
    );
  });

  it('builds a retraction (XEP-0424) with fallback body, fallback indication and store hint', () => {
    expect(
      buildGroupchat({
        to: ROOM,
        id: ORIGIN_ID,
        body: RETRACTION_FALLBACK_BODY,
        retractId: STANZA_ID,
        store: true,
      }).toString(),
    ).toBe(
      `<message to="${ROOM}" type="groupchat" id="${ORIGIN_ID}"><body>${RETRACTION_FALLBACK_BODY}</body>` +
        `<retract xmlns="urn:xmpp:message-retract:1" id="${STANZA_ID}"/>` +
        '<fallback xmlns="urn:xmpp:fallback:0" for="urn:xmpp:message-retract:1"/>' +
        '<store xmlns="urn:xmpp:hints"/>' +
        `<origin-id xmlns="urn:xmpp:sid:0" id="${ORIGIN_ID}"/></message>`,
    );
  });

  it('builds the full reaction set (XEP-0444)', () => {
    expect(
      buildGroupchat({
        to: ROOM,
        id: ORIGIN_ID,
        reactions: { id: STANZA_ID, emojis: ['👍', '🎉'] },
        store: true,
      }).toString(),
    ).toBe(
      `<message to="${ROOM}" type="groupchat" id="${ORIGIN_ID}">` +
        `<reactions xmlns="urn:xmpp:reactions:0" id="${STANZA_ID}"><reaction>👍</reaction><reaction>🎉</reaction></reactions>` +
        '<store xmlns="urn:xmpp:hints"/>' +
        `<origin-id xmlns="urn:xmpp:sid:0" id="${ORIGIN_ID}"/></message>`,
    );
  });

  it('builds a reply (XEP-0461) with its fallback range (XEP-0428)', () => {
    expect(
      buildGroupchat({
        to: ROOM,
        id: ORIGIN_ID,
        body: '> alice: q\nyes',
        reply: { to: `${ROOM}/alice`, id: STANZA_ID, fallbackLength: 11 },
      }).toString(),
    ).toBe(
      `<message to="${ROOM}" type="groupchat" id="${ORIGIN_ID}"><body>&gt; alice: q\nyes</body>` +
        `<reply xmlns="urn:xmpp:reply:0" to="${ROOM}/alice" id="${STANZA_ID}"/>` +
        '<fallback xmlns="urn:xmpp:fallback:0" for="urn:xmpp:reply:0"><body start="0" end="11"/></fallback>' +
        `<origin-id xmlns="urn:xmpp:sid:0" id="${ORIGIN_ID}"/></message>`,
    );
  });

  it('builds files as XEP-0066 plus XEP-0447 with metadata', () => {
    const url = 'https://files.example/a.png';
    expect(
      buildGroupchat({
        to: ROOM,
        id: ORIGIN_ID,
        body: url,
        files: [{ url, mediaType: 'image/png', name: 'a.png', size: 3, description: 'a cat', sha256: SHA256 }],
      }).toString(),
    ).toBe(
      `<message to="${ROOM}" type="groupchat" id="${ORIGIN_ID}"><body>${url}</body>` +
        `<x xmlns="jabber:x:oob"><url>${url}</url><desc>a cat</desc></x>` +
        '<file-sharing xmlns="urn:xmpp:sfs:0" disposition="inline"><file xmlns="urn:xmpp:file:metadata:0">' +
        '<media-type>image/png</media-type><name>a.png</name><size>3</size>' +
        `<hash xmlns="urn:xmpp:hashes:2" algo="sha-256">${Buffer.from(SHA256).toString('base64')}</hash><desc>a cat</desc></file>` +
        `<sources><url-data xmlns="http://jabber.org/protocol/url-data" target="${url}"/></sources></file-sharing>` +
        `<origin-id xmlns="urn:xmpp:sid:0" id="${ORIGIN_ID}"/></message>`,
    );
  });

  it('replaces characters XML cannot carry instead of ending the stream', () => {
    const el = buildGroupchat({ to: ROOM, id: ORIGIN_ID, body: 'a\u0000b\u001bc\uD800d]]></message>' });
    expect(el.getChildText('body')).toBe('a\uFFFDb\uFFFDc\uFFFDd]]></message>');
    expect(parseXml(el.toString()).getChildText('body')).toBe('a\uFFFDb\uFFFDc\uFFFDd]]></message>');
  });
});

/** XML 1.0 §2.2 Char, checked per code point independently of the code under test. */
function isXmlChar(cp: number): boolean {
  return (
    cp === 0x9 ||
    cp === 0xa ||
    cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

/** `text` with every character XML cannot carry (lone surrogates included) as U+FFFD. */
const carried = (text: string): string =>
  [...text].map((ch) => (isXmlChar(ch.codePointAt(0)!) ? ch : '\uFFFD')).join('');

/** The top-level elements a component stream parser sees in `serialised`, or the parse error. */
function streamElements(serialised: string): { names: string[]; bodies: (string | null)[]; error?: string } {
  const parser = new Parser();
  const names: string[] = [];
  const bodies: (string | null)[] = [];
  let error: string | undefined;
  parser.on('element', (el: XmlElementLike) => {
    names.push(el.name);
    bodies.push(el.getChildText('body'));
  });
  parser.on('error', (e: Error) => (error = e.message));
  parser.write(`<stream:stream xmlns="jabber:component:accept" xmlns:stream="http://etherx.jabber.org/streams">`);
  parser.write(serialised);
  return { names, bodies, ...(error === undefined ? {} : { error }) };
}

interface XmlElementLike {
  readonly name: string;
  getChildText(name: string): string | null;
}

/** Text pieces that break naive XML or line-based protocols, mixed with any UTF-16 code unit. */
const hostilePiece = fc.oneof(
  fc.constantFrom(
    '\r\n',
    '\r',
    '\n',
    '\u0000',
    ']]>',
    '</message><message>',
    '</body></message><message to="evil@example"><body>',
    '<![CDATA[',
    '&amp;',
    '&',
    '<',
    '"',
    "'",
    '\uD800',
    '\uDFFF',
    '\u2028',
    '\u2029',
    '\uFFFE',
    '\u001b',
    '😀',
  ),
  fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u)),
  fc.string({ maxLength: 8 }),
);

describe('protocol injection in message text (property)', () => {
  it('builds one well-formed stanza per body that reparses with the text kept (T30)', () => {
    fc.assert(
      fc.property(
        fc.array(hostilePiece, { maxLength: 30 }).map((pieces) => pieces.join('')),
        (body) => {
          const serialised = buildGroupchat({ from: PUPPET, to: ROOM, id: ORIGIN_ID, body }).toString();
          expect([...serialised].filter((ch) => !isXmlChar(ch.codePointAt(0)!))).toEqual([]);
          const seen = streamElements(serialised);
          expect(seen).toEqual({ names: ['message'], bodies: [carried(body)] });
          expect(parseGroupchat(parseXml(serialised)).body).toBe(carried(body));
        },
      ),
      { numRuns: 300, seed: 1414 },
    );
  });
});

describe('presence and IQ builders', () => {
  it('builds MUC join, nick change and leave (XEP-0045 §7.2, §7.6, §7.14)', () => {
    expect(buildMucJoin({ from: PUPPET, to: `${ROOM}/Dave` }).toString()).toBe(
      `<presence from="${PUPPET}" to="${ROOM}/Dave"><x xmlns="http://jabber.org/protocol/muc"><history maxstanzas="0"/></x></presence>`,
    );
    expect(buildNickChange({ from: PUPPET, to: `${ROOM}/Dave (mimi)` }).toString()).toBe(
      `<presence from="${PUPPET}" to="${ROOM}/Dave (mimi)"/>`,
    );
    expect(buildMucLeave({ to: `${ROOM}/Dave` }).toString()).toBe(`<presence to="${ROOM}/Dave" type="unavailable"/>`);
  });

  it('builds muc#admin changes, self-ping and private messages', () => {
    expect(
      buildAdminSet({ to: ROOM, id: 'a1', items: [{ nick: 'carol', role: 'none', reason: 'spam' }] }).toString(),
    ).toBe(
      `<iq to="${ROOM}" type="set" id="a1"><query xmlns="http://jabber.org/protocol/muc#admin">` +
        '<item nick="carol" role="none"><reason>spam</reason></item></query></iq>',
    );
    expect(buildPing({ from: PUPPET, to: `${ROOM}/Dave`, id: 'p1' }).toString()).toBe(
      `<iq from="${PUPPET}" to="${ROOM}/Dave" type="get" id="p1"><ping xmlns="urn:xmpp:ping"/></iq>`,
    );
    expect(buildPrivateMessage({ to: `${ROOM}/alice`, id: 'n1', body: 'notice' }).toString()).toBe(
      `<message to="${ROOM}/alice" type="chat" id="n1"><body>notice</body><x xmlns="http://jabber.org/protocol/muc#user"/></message>`,
    );
  });

  it('builds a MAM query paging after a stanza-id (XEP-0313, XEP-0059)', () => {
    expect(buildMamQuery({ to: ROOM, id: 'q', queryId: 'Q1', max: 50, after: STANZA_ID }).toString()).toBe(
      `<iq to="${ROOM}" type="set" id="q"><query xmlns="urn:xmpp:mam:2" queryid="Q1">` +
        '<x xmlns="jabber:x:data" type="submit"><field var="FORM_TYPE" type="hidden"><value>urn:xmpp:mam:2</value></field></x>' +
        `<set xmlns="http://jabber.org/protocol/rsm"><max>50</max><after>${STANZA_ID}</after></set></query></iq>`,
    );
  });

  it('builds a room configuration submission (XEP-0045 §10.2)', () => {
    expect(
      buildOwnerConfigSubmit({ to: ROOM, id: 'c', fields: { 'muc#roomconfig_persistentroom': '1' } }).toString(),
    ).toBe(
      `<iq to="${ROOM}" type="set" id="c"><query xmlns="http://jabber.org/protocol/muc#owner"><x xmlns="jabber:x:data" type="submit">` +
        '<field var="FORM_TYPE"><value>http://jabber.org/protocol/muc#roomconfig</value></field>' +
        '<field var="muc#roomconfig_persistentroom"><value>1</value></field></x></query></iq>',
    );
  });

  it('builds RFC 6120 error replies with the addresses swapped', () => {
    const req = parseXml('<iq from="a@x/r" to="b@y" type="get" id="7"><query xmlns="urn:example"/></iq>');
    expect(buildErrorReply(req, 'cancel', 'service-unavailable', 'no').toString()).toBe(
      '<iq from="b@y" to="a@x/r" type="error" id="7"><error type="cancel">' +
        '<service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>' +
        '<text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">no</text></error></iq>',
    );
  });
});

describe('parseGroupchat', () => {
  it('reads ids, occupant-id, delay and every extension', () => {
    const p = parseGroupchat(
      parseXml(
        `<message from="${ROOM}/alice" to="bot@mimi.example/mimi" type="groupchat" id="c1">` +
          '<body>&gt; bob: q\nanswer</body>' +
          `<stanza-id xmlns="urn:xmpp:sid:0" by="evil@example" id="forged"/>` +
          `<stanza-id xmlns="urn:xmpp:sid:0" by="${ROOM}" id="${STANZA_ID}"/>` +
          '<origin-id xmlns="urn:xmpp:sid:0" id="o1"/><occupant-id xmlns="urn:xmpp:occupant-id:0" id="occ"/>' +
          '<delay xmlns="urn:xmpp:delay" stamp="2026-01-02T03:04:05Z"/>' +
          `<reply xmlns="urn:xmpp:reply:0" to="${ROOM}/bob" id="sid-1"/>` +
          '<fallback xmlns="urn:xmpp:fallback:0" for="urn:xmpp:reply:0"><body start="0" end="9"/></fallback>' +
          '<x xmlns="jabber:x:oob"><url>https://f.example/x</url></x>' +
          '</message>',
      ),
    );
    expect(p).toMatchObject({
      room: ROOM,
      nick: 'alice',
      id: 'c1',
      originId: 'o1',
      stanzaId: STANZA_ID,
      occupantId: 'occ',
      delayedAt: Date.parse('2026-01-02T03:04:05Z'),
      reply: { to: `${ROOM}/bob`, id: 'sid-1' },
      files: [{ url: 'https://f.example/x' }],
    });
    expect(stripFallback(p.body!, p.fallbacks, [NS.REPLY])).toBe('answer');
  });

  it('reads both retraction forms and reactions', () => {
    const v1 = parseGroupchat(
      parseXml(
        `<message from="${ROOM}/a" type="groupchat"><retract xmlns="urn:xmpp:message-retract:1" id="s9"/></message>`,
      ),
    );
    expect(v1.retract).toEqual({ id: 's9', legacy: false });
    const v0 = parseGroupchat(
      parseXml(
        `<message from="${ROOM}/a" type="groupchat"><apply-to xmlns="urn:xmpp:fasten:0" id="o9"><retract xmlns="urn:xmpp:message-retract:0"/></apply-to></message>`,
      ),
    );
    expect(v0.retract).toEqual({ id: 'o9', legacy: true });
    const r = parseGroupchat(
      parseXml(
        `<message from="${ROOM}/a" type="groupchat"><reactions xmlns="urn:xmpp:reactions:0" id="s1"><reaction>👍</reaction><reaction>👍</reaction><reaction> </reaction></reactions></message>`,
      ),
    );
    expect(r.reactions).toEqual({ id: 's1', emojis: ['👍'] });
  });

  it('reads and writes XEP-0333 displayed markers', () => {
    const p = parseGroupchat(
      parseXml(
        `<message from="${ROOM}/a" type="groupchat"><displayed xmlns="urn:xmpp:chat-markers:0" id="s7"/></message>`,
      ),
    );
    expect(p.displayed).toBe('s7');
    expect(p.body).toBeUndefined();
    const out = buildGroupchat({ to: ROOM, id: 'o1', displayed: 's7', store: true });
    expect(out.getChild('displayed', 'urn:xmpp:chat-markers:0')?.attrs.id).toBe('s7');
    expect(out.getChild('body')).toBeUndefined();
  });

  it('throws CodecError for what it cannot rely on', () => {
    expect(() => parseGroupchat(parseXml('<message type="chat" from="a@b"/>'))).toThrow(CodecError);
    expect(() =>
      parseGroupchat(
        parseXml(`<message type="groupchat" from="${ROOM}/a"><replace xmlns="urn:xmpp:message-correct:0"/></message>`),
      ),
    ).toThrow(/XEP-0308/);
    expect(() =>
      parseGroupchat(
        parseXml(`<message type="groupchat" from="${ROOM}/a"><reply xmlns="urn:xmpp:reply:0"/></message>`),
      ),
    ).toThrow(/XEP-0461/);
  });
});

describe('stripFallback', () => {
  it('counts code points, not UTF-16 units', () => {
    expect(stripFallback('> 😀 x\nreal', [{ for: NS.REPLY, start: 0, end: 6 }], [NS.REPLY])).toBe('real');
    expect(stripFallback('keep', [{ for: 'urn:other', start: 0, end: 4 }], [NS.REPLY])).toBe('keep');
  });
});

describe('parseMucPresence', () => {
  it('reads a kick with actor and reason, and a nick change', () => {
    const kick = parseMucPresence(
      parseXml(
        `<presence from="${ROOM}/carol" to="bot@m/mimi" type="unavailable"><x xmlns="http://jabber.org/protocol/muc#user">` +
          '<item affiliation="none" role="none" jid="carol@example.org/x"><actor nick="alice"/><reason>spam</reason></item>' +
          '<status code="307"/></x></presence>',
      ),
    );
    expect(kick).toMatchObject({
      nick: 'carol',
      type: 'unavailable',
      realJid: 'carol@example.org',
      actorNick: 'alice',
      reason: 'spam',
      statusCodes: [307],
    });
    const rename = parseMucPresence(
      parseXml(
        `<presence from="${ROOM}/a" type="unavailable"><x xmlns="http://jabber.org/protocol/muc#user"><item nick="b"/><status code="303"/></x></presence>`,
      ),
    );
    expect(rename.newNick).toBe('b');
  });

  it('reads an error presence', () => {
    const p = parseMucPresence(
      parseXml(
        `<presence from="${ROOM}/Dave" type="error"><error type="cancel"><conflict xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></presence>`,
      ),
    );
    expect(p.error).toEqual({ type: 'cancel', condition: 'conflict', text: undefined });
  });

  it('refuses presence that is not from an occupant', () => {
    expect(() => parseMucPresence(parseXml('<presence from="example.org"/>'))).toThrow(CodecError);
    expect(() => parseMucPresence(parseXml(`<presence from="${ROOM}/a" type="subscribe"/>`))).toThrow(CodecError);
  });
});

describe('archive and discovery results', () => {
  it('reads a MAM result and fin', () => {
    const r = parseMamResult(
      parseXml(
        `<message from="${ROOM}"><result xmlns="urn:xmpp:mam:2" queryid="Q" id="${STANZA_ID}"><forwarded xmlns="urn:xmpp:forward:0">` +
          '<delay xmlns="urn:xmpp:delay" stamp="2026-01-01T00:00:00Z"/>' +
          `<message from="${ROOM}/a" type="groupchat"><body>x</body></message></forwarded></result></message>`,
      ),
    );
    expect(r).toMatchObject({ queryId: 'Q', archiveId: STANZA_ID, stamp: Date.parse('2026-01-01T00:00:00Z') });
    expect(r!.message.getChildText('body')).toBe('x');
    expect(parseMamResult(parseXml('<message/>'))).toBeUndefined();
    expect(
      parseMamFin(
        parseXml(
          '<iq type="result"><fin xmlns="urn:xmpp:mam:2" complete="true"><set xmlns="http://jabber.org/protocol/rsm"><last>z</last></set></fin></iq>',
        ),
      ),
    ).toEqual({ complete: true, first: undefined, last: 'z' });
  });

  it('reads disco#info identities, features and form fields', () => {
    const info = parseDiscoInfo(
      parseXml(
        '<iq type="result"><query xmlns="http://jabber.org/protocol/disco#info"><identity category="conference" type="text" name="Lounge"/>' +
          '<feature var="urn:xmpp:mam:2"/><x xmlns="jabber:x:data" type="result"><field var="muc#roominfo_subject"><value>Hi</value></field></x></query></iq>',
      ),
    );
    expect(info).toEqual({
      identities: [{ category: 'conference', type: 'text', name: 'Lounge' }],
      features: ['urn:xmpp:mam:2'],
      fields: { 'muc#roominfo_subject': 'Hi' },
    });
  });

  it('reads RFC 6120 stanza errors', () => {
    expect(
      parseStanzaError(
        parseXml(
          '<message type="error"><error type="auth"><forbidden xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">no voice</text></error></message>',
        ),
      ),
    ).toEqual({ type: 'auth', condition: 'forbidden', text: 'no voice' });
    expect(parseStanzaError(parseXml('<message type="chat"/>'))).toBeUndefined();
  });
});
