import { NS } from '../protocol/namespaces';
import {
  dropLines,
  composeBody,
  isAllowedAttachmentUrl,
  mapInbound,
  outboundText,
  partitionAttachments,
  replyFallback,
  stripRelayPrefix,
} from './message-mapping';
import type { ParsedGroupchat } from '../protocol/stanzas';

const ROOM = 'lounge@conference.example';
const HOSTS = ['files.example', '.cdn.example'];
const LOOKUPS = {
  byMessageId: (id: string) => `stanza-of-${id}`,
  byOwnMessageId: (id: string) => `stanza-of-${id}`,
  byStanzaId: (id: string) => id,
  isAllowedUrl: (url: string) => isAllowedAttachmentUrl(url, HOSTS),
};

function parsed(p: Partial<ParsedGroupchat>): ParsedGroupchat {
  return { room: ROOM, nick: 'alice', to: 'bot@m/mimi', fallbacks: [], files: [], references: [], ...p };
}

describe('isAllowedAttachmentUrl', () => {
  it('allows https on listed hosts and subdomains of dotted entries only', () => {
    expect(isAllowedAttachmentUrl('https://files.example/a', HOSTS)).toBe(true);
    expect(isAllowedAttachmentUrl('https://x.cdn.example/a', HOSTS)).toBe(true);
    for (const url of [
      'http://files.example/a',
      'https://files.example.evil.org/a',
      'https://user:pw@files.example/a',
      'https://127.0.0.1/a',
      'file:///etc/passwd',
      'not a url',
    ]) {
      expect(isAllowedAttachmentUrl(url, HOSTS)).toBe(false);
    }
  });
});

describe('mapInbound', () => {
  it('maps an XEP-0333 displayed marker to a read of the message it names', () => {
    // As the bridge's lookups do: a known message id gives its stanza-id, anything else is one.
    const lookups = { ...LOOKUPS, byMessageId: (id: string) => (id === 'm1' ? 'stanza-of-m1' : id) };
    expect(mapInbound(parsed({ displayed: 's5' }), lookups)).toEqual({
      kind: 'action',
      action: { type: 'read', target: { platformEventId: 's5' } },
    });
    // A client that names the message's own id: its stanza-id.
    expect(mapInbound(parsed({ displayed: 'm1' }), lookups)).toMatchObject({
      action: { type: 'read', target: { platformEventId: 'stanza-of-m1' } },
    });
  });

  it('maps bodies, emotes, corrections, retractions, replies and reactions', () => {
    expect(mapInbound(parsed({ body: 'hi' }), LOOKUPS)).toEqual({
      kind: 'action',
      action: { type: 'post', body: { kind: 'text', text: 'hi' } },
    });
    expect(mapInbound(parsed({ body: '/me waves' }), LOOKUPS)).toMatchObject({
      action: { body: { kind: 'emote', text: 'waves' } },
    });
    expect(mapInbound(parsed({ body: 'fixed', replaceId: 'm1' }), LOOKUPS)).toMatchObject({
      action: { type: 'edit', target: { platformEventId: 'stanza-of-m1' } },
    });
    expect(mapInbound(parsed({ retract: { id: 's1', legacy: false } }), LOOKUPS)).toMatchObject({
      action: { type: 'delete', target: { platformEventId: 's1' } },
    });
    expect(mapInbound(parsed({ retract: { id: 'o1', legacy: true } }), LOOKUPS)).toMatchObject({
      action: { type: 'delete', target: { platformEventId: 'stanza-of-o1' } },
    });
    expect(
      mapInbound(
        parsed({ body: '> q\nyes', reply: { id: 's2' }, fallbacks: [{ for: NS.REPLY, start: 0, end: 4 }] }),
        LOOKUPS,
      ),
    ).toEqual({
      kind: 'action',
      action: { type: 'post', body: { kind: 'text', text: 'yes' }, inReplyTo: { platformEventId: 's2' } },
    });
    expect(mapInbound(parsed({ reactions: { id: 's3', emojis: ['👍'] } }), LOOKUPS)).toEqual({
      kind: 'reactions',
      target: 's3',
      emojis: ['👍'],
    });
    expect(mapInbound(parsed({ subject: 'Topic' }), LOOKUPS)).toEqual({ kind: 'subject', subject: 'Topic' });
    expect(mapInbound(parsed({}), LOOKUPS)).toEqual({ kind: 'none' });
  });

  it('keeps only attachments from allowed hosts, with a guessed type', () => {
    const out = mapInbound(
      parsed({
        body: 'see',
        files: [{ url: 'https://files.example/a/b%20c.pdf' }, { url: 'https://evil.example/x.png' }],
      }),
      LOOKUPS,
    );
    expect(out).toMatchObject({
      action: {
        body: {
          attachments: [
            { url: 'https://files.example/a/b%20c.pdf', contentType: 'application/pdf', filename: 'b c.pdf' },
          ],
        },
      },
    });
    expect(out.kind === 'action' && out.action.type === 'post' && out.action.body.attachments).toHaveLength(1);
  });

  it('drops body lines that repeat a passed attachment URL (the OOB fallback), not other lines', () => {
    const url = 'https://files.example/cat.png';
    const out = mapInbound(
      parsed({
        body: `a cat\n${url}\nhttps://evil.example/x.png`,
        files: [{ url }, { url: 'https://evil.example/x.png' }],
      }),
      LOOKUPS,
    );
    expect(out).toMatchObject({
      action: { body: { text: 'a cat\nhttps://evil.example/x.png', attachments: [{ url }] } },
    });
    expect(mapInbound(parsed({ body: url, files: [{ url }] }), LOOKUPS)).toMatchObject({
      action: { body: { text: '', attachments: [{ url }] } },
    });
  });
});

describe('dropLines', () => {
  const url = (l: string) => l.startsWith('https://');
  it('drops matching lines with one line break each, and gives the code-point ranges removed', () => {
    expect(dropLines('a cat\nhttps://x/1.png\nbye 👋', url)).toEqual({ text: 'a cat\nbye 👋', removed: [[6, 22]] });
    expect(dropLines('https://x/1.png\n👋 hi', url)).toEqual({ text: '👋 hi', removed: [[0, 16]] });
    expect(dropLines('👋 hi\nhttps://x/1.png', url)).toEqual({ text: '👋 hi', removed: [[4, 20]] });
    expect(dropLines('https://x/1.png', url)).toEqual({ text: '', removed: [[0, 15]] });
    expect(dropLines('no urls\nhere', url)).toEqual({ text: 'no urls\nhere', removed: [] });
  });
  it('keeps text after the removed ranges at its offset minus their length', () => {
    const body = 'x 👋\nhttps://x/1.png\nhello @bob';
    const { text, removed } = dropLines(body, url);
    const at = [...body].indexOf('@');
    const shift = removed.reduce((n, [s, e]) => (e <= at ? n + e - s : n), 0);
    expect([...text][at - shift]).toBe('@');
  });
});

describe('outbound text', () => {
  it('writes emotes as /me, and relays with the author name; the prefix comes off again', () => {
    expect(outboundText({ kind: 'emote', text: 'waves' })).toBe('/me waves');
    expect(outboundText({ kind: 'text', text: 'hi' }, 'Dave')).toBe('Dave: hi');
    expect(outboundText({ kind: 'emote', text: 'waves' }, 'Dave')).toBe('* Dave waves');
    expect(stripRelayPrefix('Dave: hi', 'Dave')).toEqual({ kind: 'text', text: 'hi' });
    expect(stripRelayPrefix('* Dave waves', 'Dave')).toEqual({ kind: 'emote', text: 'waves' });
  });

  it('quotes the first line of the original in a reply fallback', () => {
    expect(replyFallback({ stanzaId: 's', nick: 'alice', text: 'line 1\nline 2' })).toBe('> alice: line 1\n');
    expect(replyFallback({ stanzaId: 's', text: 'x'.repeat(150) })).toBe(`> ${'x'.repeat(100)}…\n`);
  });

  it('lists attachment URLs after the text and notes the ones left out', () => {
    const { passed, omitted } = partitionAttachments(
      [
        { url: 'https://files.example/a.png', contentType: 'image/png' },
        { url: 'https://other.example/b.zip', contentType: 'application/zip', filename: 'b.zip' },
      ],
      (u) => isAllowedAttachmentUrl(u, HOSTS),
    );
    expect(composeBody('look', passed, omitted)).toBe(
      'look\nhttps://files.example/a.png\n[attachment not bridged: b.zip]',
    );
  });
});
