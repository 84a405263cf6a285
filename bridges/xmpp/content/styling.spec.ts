import { markdownToStyling, stylingToMarkdown } from './styling';

describe('GFM-MIMI Markdown → XEP-0393 message styling', () => {
  it.each([
    ['strong', 'hello **from Matrix**', 'hello *from Matrix*'],
    ['strong with underscores', '__bold__ move', '*bold* move'],
    ['emphasis', 'an *important* word', 'an _important_ word'],
    ['emphasis with underscores', 'an _important_ word', 'an _important_ word'],
    ['strong and emphasis together', '**a** and *b*', '*a* and _b_'],
    ['strike', '~~gone~~ now', '~gone~ now'],
    ['inline code, kept as it is', 'run `npm **test**`', 'run `npm **test**`'],
    ['a link', 'see [the spec](https://ietf.org/x)', 'see the spec (https://ietf.org/x)'],
    ['a link whose text is the address', '[https://a.example](https://a.example)', 'https://a.example'],
    ['an autolink', 'at <https://a.example/p>', 'at https://a.example/p'],
    ['a mimi: link', '[room](mimi://a.example/r/club)', 'room (mimi://a.example/r/club)'],
    ['a mention, as the name', 'hi [Alice L.](mimi://a.example/u/matrix:%40alice%3Ahs)!', 'hi Alice L.!'],
    ['an image', '![a cat](https://a.example/cat.png)', 'a cat (https://a.example/cat.png)'],
    ['escapes', 'not \\*bold\\* and 2 \\< 3', 'not *bold* and 2 < 3'],
    ['a heading', '## Agenda', '*Agenda*'],
    ['a quote', '> quoted **text**', '> quoted *text*'],
    ['a list', '- one\n- **two**', '• one\n• *two*'],
    ['a thematic break', '---', '―――'],
    ['a fenced block, verbatim', '```ts\nconst a = **b**;\n```', '```\nconst a = **b**;\n```'],
    ['plain text, untouched', 'just words, 3 * 4 = 12', 'just words, 3 * 4 = 12'],
  ])('%s', (_what, md, styled) => {
    expect(markdownToStyling(md)).toBe(styled);
  });
});

describe('XEP-0393 message styling → GFM-MIMI Markdown', () => {
  it.each([
    ['strong', 'this is *very* good', 'this is **very** good'],
    ['emphasis', 'an _italic_ word', 'an *italic* word'],
    ['strike', 'a ~wrong~ word', 'a ~~wrong~~ word'],
    ['preformatted span', 'type `ls -la` now', 'type `ls -la` now'],
    ['a span with Markdown-special characters inside', '*[not a link](x)*', '**\\[not a link\\](x)**'],
    ['plain text around a span is escaped', 'a_b *c* <d>', 'a\\_b **c** \\<d\\>'],
    ['a quote with a span', '> she said *no*', '> she said **no**'],
    ['a preformatted block (closed at the end when left open)', '```\n*x*', '```\n*x*\n```'],
    ['a heading-like first line', '# not a heading *but styled*', '\\# not a heading **but styled**'],
  ])('%s', (_what, body, md) => {
    expect(stylingToMarkdown(body)).toBe(md);
  });

  it.each([
    ['plain text', 'hello from the MUC'],
    ['a lone star', '3 * 4 = 12'],
    ['a directive followed by whitespace', 'a * b * c'],
    ['a closing directive after whitespace', '*a *'],
    ['an empty span', '**'],
    ['a directive inside a word', 'snake_case_name'],
  ])('gives no Markdown for %s', (_what, body) => {
    expect(stylingToMarkdown(body)).toBeUndefined();
  });

  it('round-trips the common spans', () => {
    const md = 'a **b** *c* ~~d~~ `e`';
    expect(stylingToMarkdown(markdownToStyling(md))).toBe(md);
  });
});
