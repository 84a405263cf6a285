import MarkdownIt from 'markdown-it';
import { escapeHtml, htmlToPlainText, sanitizeHtml } from './html-allow-list';
import { type MentionResolver, NO_MENTIONS, matrixToLink, mxidOfMatrixTo } from './matrix-mentions';

/**
 * GFM-MIMI Markdown → Matrix `body` + `formatted_body`: markdown-it with raw HTML disabled (any tag
 * comes out as text), no linkify, images off (Matrix only shows `mxc://` images), links limited to
 * http/https/mailto and MIMI user URIs (mentions, rewritten to matrix.to pills); the output then
 * passes `sanitizeHtml` as a second line of defence.
 */

interface RenderEnv {
  readonly resolver: MentionResolver;
  readonly mentions: string[];
  readonly linkStack: boolean[];
}

function createRenderer(): MarkdownIt {
  const md = new MarkdownIt('commonmark', { html: false, linkify: false, breaks: true, typographer: false });
  md.enable(['table', 'strikethrough']);
  md.disable(['image', 'html_block', 'html_inline', 'autolink']);
  // Raw HTML is disabled above; links are limited here (mimi: URIs become pills or plain text).
  md.validateLink = (url: string): boolean => /^(https?:|mailto:|mimi:)/i.test(url.trim());
  md.renderer.rules['link_open'] = (tokens, idx, _opts, env: RenderEnv) => {
    const href = tokens[idx]!.attrGet('href') ?? '';
    if (/^mimi:/i.test(href)) {
      const mxid = env.resolver.mxidOf(href);
      env.linkStack.push(mxid !== undefined);
      if (mxid === undefined) return '';
      if (!env.mentions.includes(mxid)) env.mentions.push(mxid);
      return `<a href="${escapeHtml(matrixToLink(mxid))}">`;
    }
    const mxid = mxidOfMatrixTo(href);
    if (mxid !== undefined && !env.mentions.includes(mxid)) env.mentions.push(mxid);
    env.linkStack.push(true);
    return `<a href="${escapeHtml(href)}">`;
  };
  md.renderer.rules['link_close'] = (_tokens, _idx, _opts, env: RenderEnv) => (env.linkStack.pop() ? '</a>' : '');
  return md;
}

const renderer = createRenderer();

export interface MarkdownToHtmlResult {
  /** Sanitised HTML for `formatted_body`, or undefined when the Markdown has no formatting at all. */
  readonly html?: string;
  /** Plain text for `body`. */
  readonly plain: string;
  /** Matrix users pilled (for `m.mentions.user_ids`). */
  readonly mentionedMxids: readonly string[];
}

/** GFM-MIMI Markdown → Matrix `body` + `formatted_body`. */
export function markdownToHtml(markdown: string, resolver: MentionResolver = NO_MENTIONS): MarkdownToHtmlResult {
  const env: RenderEnv = { resolver, mentions: [], linkStack: [] };
  const tokens = renderer.parse(markdown, env);
  const rendered = renderer.renderer.render(tokens, renderer.options, env);
  const html = sanitizeHtml(rendered).replace(/\n+$/, '');
  const plain = htmlToPlainText(html);
  const plainOnly =
    tokens.length === 3 &&
    tokens[0]!.type === 'paragraph_open' &&
    (tokens[1]!.children ?? []).every((t) => t.type === 'text' || t.type === 'softbreak');
  const empty = tokens.length === 0;
  return {
    ...(plainOnly || empty ? {} : { html }),
    plain: empty ? markdown.trim() : plain,
    mentionedMxids: env.mentions,
  };
}
