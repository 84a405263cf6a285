import type { ChildNode, Element } from 'domhandler';
import { parseDocument } from 'htmlparser2';

/**
 * The Matrix HTML allow-list (client-server API "m.room.message msgtypes", suggested tags and
 * attributes) and what is built on it: the sanitiser every `formatted_body` we write passes
 * (HTML → HTML), the plain text a reader sees, and the DOM helpers the HTML → Markdown
 * conversion (html-markdown.ts) shares.
 */

/** Client-server API: "clients should limit the HTML they render to avoid ... 100 levels of nesting". */
export const MAX_HTML_DEPTH = 100;

/** Tags whose content is never shown (and so never converted). */
export const DROP_WITH_CONTENT = new Set([
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
const COLOR_RE = /^#[0-9a-fA-F]{6}$/;
export const LANGUAGE_CLASS = /^language-([A-Za-z0-9_+#-]{1,32})$/;

export function isElement(n: ChildNode): n is Element {
  return n.type === 'tag' || n.type === 'script' || n.type === 'style';
}

export function parse(html: string): ChildNode[] {
  return parseDocument(html, { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true }).children;
}

export function textContent(nodes: readonly ChildNode[]): string {
  let s = '';
  for (const n of nodes) {
    if (n.type === 'text') s += n.data;
    else if (isElement(n) && !DROP_WITH_CONTENT.has(n.name)) s += n.name === 'br' ? '\n' : textContent(n.children);
  }
  return s;
}

export const BLOCK_TAGS = new Set([
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

export function collapse(s: string): string {
  return s.replace(/[ \t\r\n\f]+/g, ' ');
}

// ---------------------------------------------------------------------------------------------
// Allow-list sanitiser (HTML → HTML)
// ---------------------------------------------------------------------------------------------

export function escapeHtml(s: string): string {
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
