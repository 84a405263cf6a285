import type { ChildNode, Element } from 'domhandler';
import { parseDocument } from 'htmlparser2';
import MarkdownIt from 'markdown-it';

/**
 * Matrix formatted bodies (`format: org.matrix.custom.html`) ↔ GFM-MIMI Markdown
 * (draft-ietf-mimi-content-08 §7.1.1: GFM with tables, task lists and strikethrough, no
 * autolinks, no HTML at all). Pure functions; no raw HTML passes either way:
 *
 * - HTML → Markdown walks the parsed DOM and emits Markdown only for the tags of the Matrix
 *   allow-list (client-server API "m.room.message msgtypes", suggested tags); every other tag
 *   is dropped, keeping its text, and `script`/`style`/`mx-reply`/embedded content is dropped
 *   whole. Text is escaped so it cannot become Markdown syntax or an HTML tag (`<` is written
 *   `&lt;`, as §7.1.1 prescribes for the No HTML extension).
 * - Markdown → HTML renders with markdown-it with raw HTML disabled (any tag comes out as
 *   text), no linkify, images turned off (Matrix only shows `mxc://` images), links limited to
 *   http/https/mailto and MIMI user URIs (mentions, rewritten to matrix.to pills), and then the
 *   output passes `sanitizeHtml` as a second line of defence.
 */

/** Maps mentions between the two sides. Both directions may answer `undefined` (not a known user). */
export interface MentionResolver {
  /** The MIMI user URI to link for a Matrix user (a ghost's own URI, or a native user's URI). */
  userUriOf(mxid: string): string | undefined;
  /** The Matrix user ID to pill for a MIMI user URI. */
  mxidOf(userUri: string): string | undefined;
}

const NO_MENTIONS: MentionResolver = { userUriOf: () => undefined, mxidOf: () => undefined };

/** Client-server API: "clients should limit the HTML they render to avoid ... 100 levels of nesting". */
export const MAX_HTML_DEPTH = 100;

/** Tags whose content is never shown (and so never converted). */
const DROP_WITH_CONTENT = new Set([
  'mx-reply',
  'script',
  'style',
  'head',
  'title',
  'template',
  'iframe',
  'object',
  'embed',
  'noscript',
  'svg',
  'math',
  'textarea',
  'select',
  'button',
  'frame',
  'frameset',
  'applet',
  'audio',
  'video',
  'canvas',
]);

/** The Matrix spec's suggested allow-list (sanitizeHtml keeps these tags, unwraps every other). */
const ALLOWED_TAGS = new Set([
  'font',
  'del',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'blockquote',
  'p',
  'a',
  'ul',
  'ol',
  'sup',
  'sub',
  'li',
  'b',
  'i',
  'u',
  'strong',
  'em',
  's',
  'strike',
  'code',
  'hr',
  'br',
  'div',
  'table',
  'thead',
  'tbody',
  'tr',
  'th',
  'td',
  'caption',
  'pre',
  'span',
  'img',
  'details',
  'summary',
]);
const VOID_TAGS = new Set(['br', 'hr', 'img']);
/** Link schemes the Matrix spec allows in `a href`. */
const LINK_SCHEMES = /^(https?|ftp|mailto|magnet):/i;
/** Schemes we emit as Markdown links (MIMI clients must handle http/https; mailto is harmless). */
const MARKDOWN_LINK_SCHEMES = /^(https?|mailto):/i;
const MATRIX_TO_USER = /^https:\/\/matrix\.to\/#\/((?:@|%40)[^/?#]+)/i;
const MXID_RE = /^@[^:\s]+:[A-Za-z0-9.[\]:-]+$/;
const COLOR_RE = /^#[0-9a-fA-F]{6}$/;
const LANGUAGE_CLASS = /^language-([A-Za-z0-9_+#-]{1,32})$/;

function isElement(n: ChildNode): n is Element {
  return n.type === 'tag' || n.type === 'script' || n.type === 'style';
}

function parse(html: string): ChildNode[] {
  return parseDocument(html, { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true }).children;
}

/** The Matrix user a matrix.to link points at, or undefined. */
export function mxidOfMatrixTo(href: string): string | undefined {
  const m = MATRIX_TO_USER.exec(href);
  if (!m) return undefined;
  let id: string;
  try {
    id = decodeURIComponent(m[1]!);
  } catch {
    return undefined;
  }
  return MXID_RE.test(id) ? id : undefined;
}

export function matrixToLink(mxid: string): string {
  return `https://matrix.to/#/${encodeURIComponent(mxid).replace(/%3A/g, ':').replace(/^%40/, '@')}`;
}

// ---------------------------------------------------------------------------------------------
// HTML → Markdown
// ---------------------------------------------------------------------------------------------

/** Escape text so that Markdown reads it back as the same text and never as markup or HTML. */
export function escapeMarkdownText(text: string, atLineStart: boolean): string {
  let s = text
    .replace(/\\/g, '\\\\')
    .replace(/[`*_[\]~|]/g, '\\$&')
    .replace(/&(?=#?[A-Za-z0-9]+;)/g, '\\&')
    .replace(/</g, '&lt;');
  if (atLineStart) s = escapeLineStart(s);
  return s;
}

/** Characters that only mean something at the start of a line: headings, quotes, list markers, breaks. */
function escapeLineStart(s: string): string {
  return s.replace(
    /^(\s{0,3})(#{1,6}(?=\s|$)|>|[-+](?=\s|$)|-{3,}\s*$|=+\s*$|\d{1,9}(?=[.)](\s|$)))/,
    (_all, ws: string, marker: string) => (/^\d/.test(marker) ? `${ws}${marker}\\` : `${ws}\\${marker}`),
  );
}

function codeSpan(content: string): string {
  const longest = Math.max(0, ...[...content.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  const pad = content.startsWith('`') || content.endsWith('`') || /^\s.*\S.*\s$/.test(content) ? ' ' : '';
  return content.length === 0 ? '' : `${fence}${pad}${content}${pad}${fence}`;
}

function codeBlock(content: string, language: string | undefined): string {
  const longest = Math.max(2, ...[...content.matchAll(/^\s*(`{3,})/gm)].map((m) => m[1]!.length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}${language ?? ''}\n${content.replace(/\n$/, '')}\n${fence}`;
}

function safeLinkTarget(href: string): string {
  // No raw spaces, angle brackets or parentheses: the destination must stay one token.
  return href.replace(/[\s<>()\\]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

function wrapInline(inner: string, marker: string): string {
  const m = /^(\s*)([\s\S]*?)(\s*)$/.exec(inner)!;
  return m[2]!.length === 0 ? inner : `${m[1]}${marker}${m[2]}${marker}${m[3]}`;
}

function textContent(nodes: readonly ChildNode[]): string {
  let s = '';
  for (const n of nodes) {
    if (n.type === 'text') s += n.data;
    else if (isElement(n) && !DROP_WITH_CONTENT.has(n.name)) s += n.name === 'br' ? '\n' : textContent(n.children);
  }
  return s;
}

interface HtmlToMarkdownResult {
  readonly markdown: string;
  /** Matrix users linked by pills (matrix.to links), in order of appearance, without duplicates. */
  readonly mentionedMxids: readonly string[];
}

class MarkdownWriter {
  readonly mentions: string[] = [];
  constructor(private readonly resolver: MentionResolver) {}

  /** Render block-level content: paragraphs separated by blank lines. */
  blocks(nodes: readonly ChildNode[], depth: number): string {
    const parts: string[] = [];
    let inline: ChildNode[] = [];
    const flush = (): void => {
      const text = this.inline(inline, depth)
        .replace(/^[ \t]+|[ \t]+$/gm, '')
        .trim();
      if (text.length > 0) parts.push(text);
      inline = [];
    };
    for (const n of nodes) {
      if (isElement(n) && BLOCK_TAGS.has(n.name)) {
        flush();
        const b = this.block(n, depth + 1);
        if (b.trim().length > 0) parts.push(b);
      } else {
        inline.push(n);
      }
    }
    flush();
    return parts.join('\n\n');
  }

  private block(el: Element, depth: number): string {
    if (depth > MAX_HTML_DEPTH) return escapeMarkdownText(collapse(textContent(el.children)).trim(), true);
    switch (el.name) {
      case 'p':
      case 'div':
      case 'details':
      case 'summary':
      case 'caption':
        return this.blocks(el.children, depth);
      case 'h1':
      case 'h2':
      case 'h3':
      case 'h4':
      case 'h5':
      case 'h6': {
        const text = this.inline(el.children, depth)
          .replace(/\s*\n\s*/g, ' ')
          .trim();
        return text.length === 0 ? '' : `${'#'.repeat(Number(el.name[1]))} ${text}`;
      }
      case 'blockquote': {
        const inner = this.blocks(el.children, depth);
        return inner.length === 0
          ? ''
          : inner
              .split('\n')
              .map((l) => (l.length ? `> ${l}` : '>'))
              .join('\n');
      }
      case 'pre': {
        const code = el.children.find((c): c is Element => isElement(c) && c.name === 'code');
        const cls = code?.attribs['class']
          ?.split(/\s+/)
          .map((c) => LANGUAGE_CLASS.exec(c)?.[1])
          .find(Boolean);
        return codeBlock(textContent(el.children), cls);
      }
      case 'hr':
        return '---';
      case 'ul':
      case 'ol':
        return this.list(el, depth);
      case 'table':
        return this.table(el, depth);
      case 'li':
        return this.blocks(el.children, depth);
      default:
        return this.blocks(el.children, depth);
    }
  }

  private list(el: Element, depth: number): string {
    const ordered = el.name === 'ol';
    const startAttr = Number.parseInt(el.attribs['start'] ?? '1', 10);
    let n = Number.isFinite(startAttr) && startAttr >= 0 && startAttr < 1e9 ? startAttr : 1;
    const items: string[] = [];
    for (const c of el.children) {
      if (!isElement(c) || c.name !== 'li') continue;
      const marker = ordered ? `${n++}. ` : '- ';
      const body = this.blocks(c.children, depth + 1);
      const indent = ' '.repeat(marker.length);
      const lines = (body.length ? body : '').split('\n');
      items.push(lines.map((l, i) => (i === 0 ? `${marker}${l}` : l.length ? `${indent}${l}` : '')).join('\n'));
    }
    return items.join('\n');
  }

  private table(el: Element, depth: number): string {
    const rows: string[][] = [];
    const collect = (nodes: readonly ChildNode[]): void => {
      for (const c of nodes) {
        if (!isElement(c)) continue;
        if (c.name === 'tr') {
          rows.push(
            c.children
              .filter((x): x is Element => isElement(x) && (x.name === 'td' || x.name === 'th'))
              .map((cell) =>
                this.inline(cell.children, depth + 1)
                  .replace(/\s*\n\s*/g, ' ')
                  .trim(),
              ),
          );
        } else if (c.name === 'thead' || c.name === 'tbody' || c.name === 'tfoot') {
          collect(c.children);
        }
      }
    };
    collect(el.children);
    const width = Math.max(0, ...rows.map((r) => r.length));
    if (rows.length === 0 || width === 0) return '';
    const line = (r: readonly string[]): string =>
      `| ${Array.from({ length: width }, (_, i) => r[i] ?? '').join(' | ')} |`;
    return [line(rows[0]!), line(Array.from({ length: width }, () => '---')), ...rows.slice(1).map(line)].join('\n');
  }

  /** Render inline content. Line starts are escaped by the caller's final pass. */
  inline(nodes: readonly ChildNode[], depth: number): string {
    let out = '';
    for (const n of nodes) {
      const atLineStart = out.length === 0 || out.endsWith('\n');
      if (n.type === 'text') {
        const t = collapse(n.data);
        out += escapeMarkdownText(atLineStart ? t.replace(/^ /, '') : t, atLineStart);
        continue;
      }
      if (!isElement(n) || DROP_WITH_CONTENT.has(n.name)) continue;
      if (depth > MAX_HTML_DEPTH) {
        out += escapeMarkdownText(collapse(textContent(n.children)), atLineStart);
        continue;
      }
      out += this.inlineElement(n, depth + 1);
    }
    return out;
  }

  private inlineElement(el: Element, depth: number): string {
    switch (el.name) {
      case 'br':
        return '\\\n';
      case 'b':
      case 'strong':
        return wrapInline(this.inline(el.children, depth), '**');
      case 'i':
      case 'em':
        return wrapInline(this.inline(el.children, depth), '*');
      case 'del':
      case 's':
      case 'strike':
        return wrapInline(this.inline(el.children, depth), '~~');
      case 'code':
        return codeSpan(collapse(textContent(el.children)));
      case 'a':
        return this.link(el, depth);
      case 'img': {
        const alt = collapse(el.attribs['alt'] ?? el.attribs['title'] ?? '');
        return escapeMarkdownText(alt, false);
      }
      default:
        if (BLOCK_TAGS.has(el.name)) return `\n\n${this.block(el, depth)}\n\n`;
        return this.inline(el.children, depth);
    }
  }

  private link(el: Element, depth: number): string {
    const text = this.inline(el.children, depth).replace(/\s*\n\s*/g, ' ');
    const href = (el.attribs['href'] ?? '').trim();
    const mxid = mxidOfMatrixTo(href);
    if (mxid !== undefined) {
      if (!this.mentions.includes(mxid)) this.mentions.push(mxid);
      const uri = this.resolver.userUriOf(mxid);
      const label = text.trim().length ? text.trim() : escapeMarkdownText(mxid, false);
      return `[${label}](${safeLinkTarget(uri ?? matrixToLink(mxid))})`;
    }
    if (!MARKDOWN_LINK_SCHEMES.test(href)) return text;
    const label = text.trim().length ? text.trim() : escapeMarkdownText(href, false);
    return `[${label}](${safeLinkTarget(href)})`;
  }
}

const BLOCK_TAGS = new Set([
  'p',
  'div',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'blockquote',
  'pre',
  'hr',
  'ul',
  'ol',
  'li',
  'table',
  'details',
  'summary',
  'caption',
]);

function collapse(s: string): string {
  return s.replace(/[ \t\r\n\f]+/g, ' ');
}

/** HTML (a Matrix `formatted_body`) → GFM-MIMI Markdown, with the Matrix users it pills. */
export function htmlToMarkdown(html: string, resolver: MentionResolver = NO_MENTIONS): HtmlToMarkdownResult {
  const w = new MarkdownWriter(resolver);
  const markdown = w
    .blocks(parse(html), 0)
    .replace(/\n{3,}/g, '\n\n')
    .replace(/\\\n(\s*)$/g, '$1')
    .trim();
  return { markdown, mentionedMxids: w.mentions };
}

// ---------------------------------------------------------------------------------------------
// Allow-list sanitiser (HTML → HTML)
// ---------------------------------------------------------------------------------------------

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function allowedAttributes(el: Element): [string, string][] {
  const out: [string, string][] = [];
  const a = el.attribs;
  switch (el.name) {
    case 'a':
      if (a['href'] !== undefined && LINK_SCHEMES.test(a['href'].trim())) out.push(['href', a['href'].trim()]);
      break;
    case 'img':
      if (a['src'] !== undefined && /^mxc:\/\/[A-Za-z0-9.:[\]-]+\/[A-Za-z0-9_-]+$/.test(a['src'])) {
        out.push(['src', a['src']]);
      }
      for (const k of ['alt', 'title']) if (a[k] !== undefined) out.push([k, a[k]]);
      for (const k of ['width', 'height']) if (a[k] !== undefined && /^\d{1,5}$/.test(a[k])) out.push([k, a[k]]);
      break;
    case 'ol':
      if (a['start'] !== undefined && /^\d{1,9}$/.test(a['start'])) out.push(['start', a['start']]);
      break;
    case 'code': {
      const cls = a['class']?.split(/\s+/).find((c) => LANGUAGE_CLASS.test(c));
      if (cls) out.push(['class', cls]);
      break;
    }
    case 'span':
    case 'font':
      for (const k of ['data-mx-color', 'data-mx-bg-color', 'color']) {
        if (a[k] !== undefined && COLOR_RE.test(a[k])) out.push([k, a[k]]);
      }
      if (el.name === 'span' && a['data-mx-spoiler'] !== undefined) out.push(['data-mx-spoiler', a['data-mx-spoiler']]);
      break;
    default:
      break;
  }
  return out;
}

function serialise(nodes: readonly ChildNode[], depth: number): string {
  let out = '';
  for (const n of nodes) {
    if (n.type === 'text') {
      out += escapeHtml(n.data);
      continue;
    }
    if (!isElement(n) || DROP_WITH_CONTENT.has(n.name)) continue;
    if (depth >= MAX_HTML_DEPTH) {
      out += escapeHtml(textContent(n.children));
      continue;
    }
    if (!ALLOWED_TAGS.has(n.name)) {
      out += serialise(n.children, depth);
      continue;
    }
    if (n.name === 'img' && !allowedAttributes(n).some(([k]) => k === 'src')) continue;
    const attrs = allowedAttributes(n)
      .map(([k, v]) => ` ${k}="${escapeHtml(v)}"`)
      .join('');
    out += VOID_TAGS.has(n.name)
      ? `<${n.name}${attrs}>`
      : `<${n.name}${attrs}>${serialise(n.children, depth + 1)}</${n.name}>`;
  }
  return out;
}

/**
 * Keep only the Matrix allow-list: allowed tags with allowed attributes (links http/https/ftp/
 * mailto/magnet, images `mxc://` only), other tags unwrapped, dangerous ones dropped with their
 * content, nesting capped at 100, all text re-escaped.
 */
export function sanitizeHtml(html: string): string {
  return serialise(parse(html), 0);
}

/** The text a reader sees, for the plain `body` next to a `formatted_body`. */
export function htmlToPlainText(html: string): string {
  const lines: string[] = [];
  let cur = '';
  let curPre = false;
  const push = (): void => {
    const text = curPre ? cur.replace(/\n$/, '') : cur.replace(/[ \t]+/g, ' ').trim();
    if (text.length > 0 || (lines.length > 0 && lines[lines.length - 1] !== '')) lines.push(text);
    cur = '';
    curPre = false;
  };
  const onlyMarker = (): boolean => /^\s*(- )?\s*$/.test(cur);
  const walk = (nodes: readonly ChildNode[], depth: number, pre: boolean): void => {
    for (const n of nodes) {
      if (n.type === 'text') {
        if (pre) {
          cur += n.data;
          curPre = true;
        } else {
          cur += collapse(n.data);
        }
        continue;
      }
      if (!isElement(n) || DROP_WITH_CONTENT.has(n.name) || depth > MAX_HTML_DEPTH) continue;
      if (n.name === 'br') {
        push();
        continue;
      }
      const block = BLOCK_TAGS.has(n.name) || n.name === 'tr';
      if (block) {
        if (!onlyMarker()) push();
        else if (!cur.includes('- ')) cur = '';
      }
      if (n.name === 'li') cur += '- ';
      if ((n.name === 'td' || n.name === 'th') && cur.trim().length > 0) cur += ' | ';
      walk(n.children, depth + 1, pre || n.name === 'pre');
      if (block && !onlyMarker()) push();
    }
  };
  walk(parse(html), 0, false);
  push();
  return lines.join('\n').trim();
}

// ---------------------------------------------------------------------------------------------
// Markdown → HTML
// ---------------------------------------------------------------------------------------------

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
