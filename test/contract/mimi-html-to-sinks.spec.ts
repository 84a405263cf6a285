/**
 * RELIABILITY T29, the MIMI → legacy direction: a MIMI message whose body is a `text/html` part (or
 * offers one among chooseOne alternatives) with script in it, mapped by the rooms core
 * (actionForContent) and rendered by each sink: the Matrix bridge's event content (body,
 * formatted_body) and the XMPP bridge's stanza.
 */
import { Logger } from '@nestjs/common';
import {
  Cardinality,
  Disposition,
  MEDIA_TYPE_MARKDOWN_GFM_MIMI,
  type NestedPart,
  PartSemantics,
  buildTextMessage,
} from '../../src/mimi/content';
import type { MessageAction } from '../../src/ports';
import { actionForContent } from '../../src/rooms/content-mapping';
import { MatrixIds } from '../../bridges/matrix/matrix-ids';
import { type MapperContext, messageContentFor } from '../../bridges/matrix/matrix-event.mapper';
import { sanitizeHtml } from '../../bridges/matrix/html-markdown';
import { DAVE, type Harness, ROOM_REF, harness } from '../kits/xmpp/bridge-harness';

const HOSTILE_HTML =
  '<p onclick="alert(1)">hi<script>alert(2)</script><img src=x onerror="alert(3)">' +
  '<a href="javascript:alert(4)">link</a><svg><script>alert(5)</script></svg></p>';
/** Markdown with raw HTML in it: rendered by the Matrix sink, which must not pass the HTML through. */
const HOSTILE_MARKDOWN = '**hi** <script>alert(6)</script> <img src=x onerror="alert(7)"> [x](javascript:alert(8))';
/** What would run script if it were an element or attribute (escaped text of it is harmless). */
const SCRIPTING = /script|svg|\son\w+\s*=|javascript:/i;
/** The tags of an HTML fragment, without its text. */
const tagsOf = (html: string): string => (html.match(/<[^>]*>/g) ?? []).join('');

const matrixCtx: MapperContext = {
  ids: new MatrixIds('_mimi_', 'hs.test', 'mimibot'),
  homeserverUrl: 'http://127.0.0.1:8008',
  mentions: { userUriOf: () => undefined, mxidOf: () => undefined },
};

const single = (contentType: string, text: string): NestedPart => ({
  disposition: Disposition.Render,
  language: '',
  cardinality: Cardinality.Single,
  contentType,
  content: new TextEncoder().encode(text),
});

async function postOf(nestedPart: NestedPart): Promise<Extract<MessageAction, { type: 'post' }>> {
  const content = {
    ...buildTextMessage({ senderUri: 'mimi://b.example/u/mallory', roomUri: 'mimi://a.example/r/club', text: 'x' }),
    nestedPart,
  };
  const action = await actionForContent(content, async () => undefined);
  if (action?.type !== 'post') throw new Error(`expected a post, got ${action?.type}`);
  return action;
}

const CASES: [string, NestedPart][] = [
  ['a lone text/html part', single('text/html', HOSTILE_HTML)],
  [
    'chooseOne alternatives, text/html first',
    {
      disposition: Disposition.Render,
      language: '',
      cardinality: Cardinality.Multi,
      partSemantics: PartSemantics.ChooseOne,
      parts: [single('text/html', HOSTILE_HTML), single(MEDIA_TYPE_MARKDOWN_GFM_MIMI, HOSTILE_MARKDOWN)],
    },
  ],
  ['Markdown with raw HTML', single(MEDIA_TYPE_MARKDOWN_GFM_MIMI, HOSTILE_MARKDOWN)],
];

describe('a MIMI text/html part with script reaching the sinks (T29)', () => {
  let h: Harness;
  beforeAll(async () => {
    Logger.overrideLogger(false);
    h = await harness({ mode: 'component' });
  });
  afterAll(async () => h?.bridge.stop());

  it.each(CASES)('%s: the Matrix formatted_body is within the allow-list and runs no script', async (_what, part) => {
    const post = await postOf(part);
    const content = messageContentFor(post.body, matrixCtx);
    const formatted = content['formatted_body'];
    if (formatted !== undefined) {
      expect(content['format']).toBe('org.matrix.custom.html');
      expect(sanitizeHtml(formatted as string)).toBe(formatted);
      expect(tagsOf(formatted as string)).not.toMatch(SCRIPTING);
    }
    // The plain body is text (clients do not render it as HTML): the part's text, kept; Markdown
    // goes in as its plain rendering (`**hi**` → `hi`).
    if (post.body.markdown === undefined) expect(content['body']).toBe(post.body.text);
    else expect(content['body']).toMatch(/^hi <script>alert\(6\)<\/script>/);
  });

  it('never gives the Matrix sink a formatted_body for a text/html part, and prefers the Markdown alternative', async () => {
    expect(messageContentFor((await postOf(CASES[0]![1])).body, matrixCtx)).not.toHaveProperty('formatted_body');
    expect((await postOf(CASES[1]![1])).body).toEqual({
      kind: 'text',
      text: HOSTILE_MARKDOWN,
      markdown: HOSTILE_MARKDOWN,
    });
  });

  it.each(CASES)('%s: the XMPP stanza carries the text in its plain body and no markup element', async (what, part) => {
    // Markdown goes out as XEP-0393 styling (`**hi**` → `*hi*`); anything else as it is.
    const post = await postOf(part);
    await h.bridge.post(ROOM_REF, DAVE, post, { idempotencyKey: `html-${what}`, timeoutMs: 5000 });
    const sent = h.transport.sent.filter((el) => el.name === 'message').at(-1)!;
    expect(sent.children.map((c) => (typeof c === 'string' ? c : c.name))).toEqual(['body', 'origin-id']);
    const body = sent.getChildText('body')!;
    if (post.body.markdown === undefined) expect(body).toBe(post.body.text);
    else expect(body).toMatch(/^\*hi\* <script>alert\(6\)<\/script>/);
  });
});
