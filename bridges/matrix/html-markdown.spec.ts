import fc from 'fast-check';
import MarkdownIt from 'markdown-it';
import {
  MAX_HTML_DEPTH,
  type MentionResolver,
  escapeMarkdownText,
  htmlToMarkdown,
  htmlToPlainText,
  markdownToHtml,
  matrixToLink,
  mxidOfMatrixTo,
  sanitizeHtml,
} from './html-markdown';

const ALICE = '@alice:hs.test';
const ALICE_URI = 'mimi://gw.example/u/matrix:%40alice%3Ahs.test';
const CAROL_GHOST = '@_mimi_follower.example_carol:hs.test';
const CAROL_URI = 'mimi://follower.example/u/carol';
const RESOLVER: MentionResolver = {
  userUriOf: (mxid) => (mxid === ALICE ? ALICE_URI : mxid === CAROL_GHOST ? CAROL_URI : undefined),
  mxidOf: (uri) => (uri === ALICE_URI ? ALICE : uri === CAROL_URI ? CAROL_GHOST : undefined),
};

/** A CommonMark/GFM reader with raw HTML allowed, to prove none of our output is read as HTML. */
const READER = new MarkdownIt('commonmark', { html: true }).enable(['table', 'strikethrough']);

const HOSTILE = [
  '<script>alert(1)</script>',
  '<img src="https://evil.example/x" onerror="alert(1)">',
  '<a href="javascript:alert(1)">x</a>',
  '<a href="data:text/html,<script>alert(1)</script>">x</a>',
  '<iframe src="https://evil.example"></iframe>',
  '<style>*{display:none}</style>',
  '<svg><script>alert(1)</script></svg>',
  '<b onmouseover="alert(1)">bold</b>',
  '&lt;script&gt;alert(1)&lt;/script&gt;',
  '<!-- comment --><![CDATA[x]]>',
  '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
  '<form action="https://evil.example"><input name=x></form>',
  '<object data="x"></object><embed src="x">',
];

describe('htmlToMarkdown', () => {
  it.each([
    ['plain text', 'hello', 'hello'],
    ['bold and italics', 'a <b>b</b> <strong>c</strong> <i>d</i> <em>e</em>', 'a **b** **c** *d* *e*'],
    ['strikethrough', '<del>x</del> <s>y</s> <strike>z</strike>', '~~x~~ ~~y~~ ~~z~~'],
    ['inline code with a backtick', 'use <code>a`b</code>', 'use ``a`b``'],
    ['paragraphs', '<p>one</p><p>two</p>', 'one\n\ntwo'],
    ['line breaks', 'a<br>b<br/>c', 'a\\\nb\\\nc'],
    ['headings', '<h1>T</h1><h3>s</h3>', '# T\n\n### s'],
    ['blockquote', '<blockquote><p>q1</p><p>q2</p></blockquote>', '> q1\n>\n> q2'],
    ['unordered list', '<ul><li>a</li><li>b</li></ul>', '- a\n- b'],
    ['ordered list with start', '<ol start="3"><li>a</li><li>b</li></ol>', '3. a\n4. b'],
    ['nested list', '<ul><li>a<ul><li>b</li></ul></li></ul>', '- a\n\n  - b'],
    [
      'code block with language',
      '<pre><code class="language-ts">let a = 1;\n&lt;b&gt;\n</code></pre>',
      '```ts\nlet a = 1;\n<b>\n```',
    ],
    ['code block containing a fence', '<pre><code>```\nx\n```</code></pre>', '````\n```\nx\n```\n````'],
    ['horizontal rule', 'a<hr>b', 'a\n\n---\n\nb'],
    ['link', '<a href="https://example.org/a b">site</a>', '[site](https://example.org/a%20b)'],
    ['mailto link', '<a href="mailto:a@b.example">mail</a>', '[mail](mailto:a@b.example)'],
    ['link with a bad scheme keeps its text', '<a href="ftp://x">files</a>', 'files'],
    [
      'table',
      '<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>',
      '| a | b |\n| --- | --- |\n| 1 | 2 |',
    ],
    [
      'unknown tags keep their text',
      '<font color="#ff0000">red</font> <span data-mx-spoiler>s</span> <u>u</u>',
      'red s u',
    ],
    ['reply fallback is dropped', '<mx-reply><blockquote>In reply to x</blockquote></mx-reply>answer', 'answer'],
    ['image becomes its alt text', 'see <img src="mxc://hs/abc" alt="a cat">', 'see a cat'],
  ])('converts %s', (_what, html, markdown) => {
    expect(htmlToMarkdown(html).markdown).toBe(markdown);
  });

  it.each([
    ['asterisks and underscores', '*not* _emphasis_', '\\*not\\* \\_emphasis\\_'],
    ['brackets', '[not](a link)', '\\[not\\](a link)'],
    ['a tag in text', '&lt;b&gt;bold&lt;/b&gt;', '&lt;b>bold&lt;/b>'],
    ['an entity in text', '&amp;amp;', '\\&amp;'],
    ['a heading marker at line start', '# title', '\\# title'],
    ['a list marker at line start', '- item', '\\- item'],
    ['an ordered marker at line start', '1. item', '1\\. item'],
    ['a quote marker at line start', '&gt; quote', '\\> quote'],
    ['markers after a break', 'a<br># b', 'a\\\n\\# b'],
    ['backslashes', 'a\\b', 'a\\\\b'],
    ['pipes and tildes', 'a|b ~c~', 'a\\|b \\~c\\~'],
  ])('escapes %s so it stays text', (_what, html, markdown) => {
    const md = htmlToMarkdown(html).markdown;
    expect(md).toBe(markdown);
    expect(READER.renderInline(md)).not.toMatch(/<(em|strong|a|h\d|li|blockquote|b)\b/);
  });

  it('turns matrix.to pills into MIMI user links and reports them', () => {
    const html = `<a href="https://matrix.to/#/${ALICE}">Alice</a> and <a href="https://matrix.to/#/%40bob%3Ahs.test">Bob</a>`;
    const r = htmlToMarkdown(html, RESOLVER);
    expect(r.markdown).toBe(`[Alice](${ALICE_URI}) and [Bob](https://matrix.to/#/@bob:hs.test)`);
    expect(r.mentionedMxids).toEqual([ALICE, '@bob:hs.test']);
  });

  it.each(HOSTILE)('leaves no HTML and no script from %s', (html) => {
    const md = htmlToMarkdown(`before ${html} after`).markdown;
    expect(md).not.toMatch(/<[a-z!/?]/i);
    const rendered = READER.render(md);
    expect(rendered).not.toMatch(/<(script|img|iframe|style|svg|math|form|input|object|embed)\b/i);
    expect(rendered).not.toMatch(/javascript:|onerror|onmouseover|data:text/i);
  });

  it('caps nesting at the Matrix limit and keeps the text', () => {
    const deep = `${'<div><b>'.repeat(MAX_HTML_DEPTH + 20)}deep${'</b></div>'.repeat(MAX_HTML_DEPTH + 20)}`;
    expect(htmlToMarkdown(deep).markdown).toContain('deep');
  });

  it('never produces Markdown that a reader takes as raw HTML (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (text) => {
        const html = text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
        const md = htmlToMarkdown(`<p>${html}</p>`).markdown;
        const tokens = READER.parse(md, {});
        const hasHtml = (ts: ReturnType<MarkdownIt['parse']>): boolean =>
          ts.some(
            (t) => t.type === 'html_block' || t.type === 'html_inline' || (t.children ? hasHtml(t.children) : false),
          );
        return !hasHtml(tokens);
      }),
    );
  });

  it('round-trips plain text through Markdown (property)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[\x21-\x7e][\x20-\x7e]{0,40}[\x21-\x7e]$/), (text) => {
        const html = text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
        const md = htmlToMarkdown(html).markdown;
        return htmlToPlainText(READER.render(md)) === text.replace(/ +/g, ' ');
      }),
    );
  });
});

describe('markdownToHtml', () => {
  it('sends no formatted body for plain text', () => {
    expect(markdownToHtml('just text\nnext line')).toEqual({ plain: 'just text\nnext line', mentionedMxids: [] });
  });

  it('renders GFM: emphasis, strikethrough, code, lists, tables, quotes', () => {
    const r = markdownToHtml('**b** ~~s~~ `c`\n\n- a\n- b\n\n| x | y |\n| - | - |\n| 1 | 2 |\n\n> q');
    expect(r.html).toBe(
      '<p><strong>b</strong> <s>s</s> <code>c</code></p>\n<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n' +
        '<table>\n<thead>\n<tr>\n<th>x</th>\n<th>y</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n<td>1</td>\n<td>2</td>\n</tr>\n</tbody>\n</table>\n' +
        '<blockquote>\n<p>q</p>\n</blockquote>',
    );
    expect(r.plain).toBe('b s c\n- a\n- b\nx | y\n1 | 2\nq');
  });

  it('pills mentions of MIMI users and reports them for m.mentions', () => {
    const r = markdownToHtml(`hi [@Alice](${ALICE_URI}) and [Carol](${CAROL_URI})`, RESOLVER);
    expect(r.html).toBe(
      `<p>hi <a href="${matrixToLink(ALICE)}">@Alice</a> and <a href="${matrixToLink(CAROL_GHOST)}">Carol</a></p>`,
    );
    expect(r.mentionedMxids).toEqual([ALICE, CAROL_GHOST]);
  });

  it('keeps the text of a link to an unknown MIMI URI, without the link', () => {
    expect(markdownToHtml('see [room](mimi://x.example/r/general)').html).toBe('<p>see room</p>');
  });

  it.each([
    ['raw HTML', '<script>alert(1)</script> <b onclick="x">b</b>', /<script|<b /],
    ['a javascript link', '[x](javascript:alert(1))', /href="javascript/],
    ['a data link', '[x](data:text/html;base64,AAAA)', /href="data/],
    ['an image', '![x](https://evil.example/track.png)', /<img/],
    ['an autolink', '<https://evil.example>', /<a /],
    ['a bare URL', 'https://example.org', /<a /],
  ])('never lets %s through', (_what, md, bad) => {
    const r = markdownToHtml(md);
    expect(r.html ?? '').not.toMatch(bad);
  });

  it('outputs only allow-listed HTML (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 120 }), (md) => {
        const { html } = markdownToHtml(md);
        return html === undefined || sanitizeHtml(html) === html;
      }),
    );
  });
});

describe('sanitizeHtml', () => {
  it('keeps allowed tags and attributes and drops the rest', () => {
    expect(
      sanitizeHtml(
        '<div onclick="x"><a href="https://ok.example" target="_blank">ok</a><a href="javascript:1">bad</a>' +
          '<img src="mxc://hs.test/abc" onerror="y"><img src="https://x/y.png"><font color="#ff0000" style="x">r</font>' +
          '<code class="language-js evil">c</code><script>s</script><custom>t</custom></div>',
      ),
    ).toBe(
      '<div><a href="https://ok.example">ok</a><a>bad</a><img src="mxc://hs.test/abc"><font color="#ff0000">r</font>' +
        '<code class="language-js">c</code>t</div>',
    );
  });

  it('escapes text', () => {
    expect(sanitizeHtml('a &lt;b&gt; &amp; "q"')).toBe('a &lt;b&gt; &amp; &quot;q&quot;');
  });
});

describe('helpers', () => {
  it('recognises matrix.to user links only', () => {
    expect(mxidOfMatrixTo('https://matrix.to/#/@a:b.example')).toBe('@a:b.example');
    expect(mxidOfMatrixTo('https://matrix.to/#/%40a%3Ab.example')).toBe('@a:b.example');
    expect(mxidOfMatrixTo('https://matrix.to/#/!room:b.example')).toBeUndefined();
    expect(mxidOfMatrixTo('https://evil.example/#/@a:b.example')).toBeUndefined();
  });

  it('escapes line-start markers only at a line start', () => {
    expect(escapeMarkdownText('# x', true)).toBe('\\# x');
    expect(escapeMarkdownText('# x', false)).toBe('# x');
  });
});
