import type { ChildNode, Element } from 'domhandler';
import {
  BLOCK_TAGS,
  DROP_WITH_CONTENT,
  LANGUAGE_CLASS,
  MAX_HTML_DEPTH,
  collapse,
  isElement,
  parse,
  textContent,
} from './html-allow-list';
import { type MentionResolver, NO_MENTIONS, matrixToLink, mxidOfMatrixTo } from './matrix-mentions';

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
 * - Markdown → HTML: markdown-to-html.ts; the allow-list and its sanitiser: html-allow-list.ts;
 *   matrix.to pills: matrix-mentions.ts. This module re-exports them: it is the bridge's one entry
 *   point for formatted bodies.
 */

/** Schemes we emit as Markdown links (MIMI clients must handle http/https; mailto is harmless). */
const MARKDOWN_LINK_SCHEMES = /^(https?|mailto):/i;

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

export type { MentionResolver } from './matrix-mentions';
export { MAX_HTML_DEPTH, htmlToPlainText, sanitizeHtml } from './html-allow-list';
export { matrixToLink, mxidOfMatrixTo } from './matrix-mentions';
export { markdownToHtml } from './markdown-to-html';
