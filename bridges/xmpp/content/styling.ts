/**
 * GFM-MIMI Markdown (content-08 §7) ↔ XEP-0393 Message Styling, the plain-text formatting XMPP
 * clients show: `*strong*`, `_emphasis_`, `~strike~`, `` `pre` ``, ``` blocks, `> quotes`.
 *
 * - Out (MIMI → XMPP): the Markdown a message carries becomes a body that reads well as plain
 *   text and is styled by clients that do XEP-0393. What XEP-0393 has no form for is written
 *   out: links as `text (url)`, mentions (links to `mimi://…/u/…`) as their text, headings as strong
 *   lines, list bullets as `•`, escapes removed.
 * - In (XMPP → MIMI): a body with styling spans gets a Markdown form (the port's `markdown`), with
 *   every other Markdown-special character escaped, so nothing is read as formatting that the
 *   sender did not mean. A body without styling gets none (it stays text/plain).
 */

const FENCE = /^```/;

// ---- Markdown → XEP-0393 ------------------------------------------------------------------------

/** The XEP-0393 body for GFM-MIMI Markdown. */
export function markdownToStyling(md: string): string {
  let inFence = false;
  return md
    .split('\n')
    .map((line) => {
      if (FENCE.test(line)) {
        inFence = !inFence;
        return '```';
      }
      if (inFence) return line;
      return blockToStyling(line);
    })
    .join('\n');
}

function blockToStyling(line: string): string {
  const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
  if (heading) return heading[1] === '' ? '' : `*${inlineToStyling(heading[1]!)}*`;
  const quote = /^ {0,3}>\s?(.*)$/.exec(line);
  if (quote) return `> ${blockToStyling(quote[1]!)}`;
  const bullet = /^(\s*)[-*+]\s+(.*)$/.exec(line);
  if (bullet) return `${bullet[1]}• ${inlineToStyling(bullet[2]!)}`;
  if (/^ {0,3}([-*_])(\s*\1){2,}\s*$/.test(line)) return '―――';
  return inlineToStyling(line);
}

/** Inline Markdown of one line; code spans are kept as they are (XEP-0393 has the same form). */
function inlineToStyling(line: string): string {
  const out: string[] = [];
  const code = /(`+)(.+?)\1/g;
  let last = 0;
  for (let m = code.exec(line); m !== null; m = code.exec(line)) {
    out.push(spansToStyling(line.slice(last, m.index)), `\`${m[2]!.trim()}\``);
    last = m.index + m[0].length;
  }
  out.push(spansToStyling(line.slice(last)));
  return out.join('');
}

const STRONG_MARK = '\u0001';
/** A mention (a link to a MIMI user URI) shows as its text, the name: XMPP clients highlight their user's nick. */
const MIMI_USER = /^mimi:\/\/[^/]+\/u\//;

/** Escaped characters are set aside (as \uE000<n>\uE001) while spans are converted. */
function spansToStyling(s: string): string {
  const escaped: string[] = [];
  return (
    s
      .replace(/\\([\\`*_{}[\]()#+\-.!~<>|])/g, (_m, c: string) => `\uE000${escaped.push(c) - 1}\uE001`)
      // Images and links: XEP-0393 has none; the text and the address both stay readable.
      .replace(/!\[([^\]]*)\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g, (_m, alt: string, url: string) =>
        alt === '' ? url : `${alt} (${url})`,
      )
      .replace(/\[([^\]]+)\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g, (_m, text: string, url: string) =>
        MIMI_USER.test(url) ? text : text === url ? url : `${text} (${url})`,
      )
      .replace(/<((?:https?|mailto|xmpp|mimi):[^>\s]+)>/g, '$1')
      // Strong first (to a placeholder), so that its stars are not read as emphasis.
      .replace(/\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__/g, (_m, a?: string, b?: string) => {
        return `${STRONG_MARK}${a ?? b}${STRONG_MARK}`;
      })
      .replace(/(^|[^*\w])\*(?=\S)([^*]+?)(?<=\S)\*(?![*\w])/g, '$1_$2_')
      .replace(/~~(?=\S)(.+?)(?<=\S)~~/g, '~$1~')
      .replaceAll(STRONG_MARK, '*')
      .replace(/\uE000(\d+)\uE001/g, (m, i: string) => escaped[Number(i)] ?? m)
  );
}

// ---- XEP-0393 → Markdown ------------------------------------------------------------------------

/** The spans of XEP-0393 §6 (span directives), with the Markdown each becomes. */
const SPANS: readonly { readonly mark: string; readonly md: string }[] = [
  { mark: '*', md: '**' },
  { mark: '_', md: '*' },
  { mark: '~', md: '~~' },
  { mark: '`', md: '`' },
];

/**
 * The Markdown form of an XMPP body that uses XEP-0393 styling, or undefined when it uses none
 * (the body is then plain text and needs no Markdown).
 */
export function stylingToMarkdown(body: string): string | undefined {
  let styled = false;
  let inBlock = false;
  const lines = body.split('\n').map((line) => {
    if (FENCE.test(line)) {
      inBlock = !inBlock;
      styled = true;
      return line;
    }
    if (inBlock) return line;
    const quote = /^(>+ ?)(.*)$/.exec(line);
    const prefix = quote ? quote[1]! : '';
    const converted = lineToMarkdown(quote ? quote[2]! : line);
    if (converted.styled) styled = true;
    return prefix + converted.md;
  });
  if (inBlock) lines.push('```');
  return styled ? lines.join('\n') : undefined;
}

/** One line's spans (XEP-0393 §6.2: an opening directive at the start or after whitespace, not followed by whitespace). */
function lineToMarkdown(line: string): { md: string; styled: boolean } {
  let md = '';
  let styled = false;
  let plain = '';
  let i = 0;
  const flush = (): void => {
    md += escapeMarkdown(plain, md === '');
    plain = '';
  };
  while (i < line.length) {
    const span = SPANS.find((s) => s.mark === line[i]);
    const atBoundary = i === 0 || /\s/.test(line[i - 1]!);
    if (span && atBoundary && i + 1 < line.length && !/\s/.test(line[i + 1]!)) {
      const end = closingDirective(line, i + 1, span.mark);
      if (end !== undefined) {
        flush();
        const inner = line.slice(i + 1, end);
        md += span.mark === '`' ? `\`${inner}\`` : `${span.md}${escapeMarkdown(inner, false)}${span.md}`;
        styled = true;
        i = end + 1;
        continue;
      }
    }
    plain += line[i];
    i += 1;
  }
  flush();
  return { md, styled };
}

/** Index of the closing directive: preceded by non-whitespace, not right after the opening one. */
function closingDirective(line: string, from: number, mark: string): number | undefined {
  for (let j = from + 1; j < line.length; j++) {
    if (line[j] === mark && !/\s/.test(line[j - 1]!)) return j;
  }
  return undefined;
}

/** A plain-text body as Markdown that shows the same characters, line by line. */
export function plainToMarkdown(s: string): string {
  return s
    .split('\n')
    .map((line) => escapeMarkdown(line, true))
    .join('\n');
}

/** Plain text as Markdown that shows the same characters (GFM-MIMI has no HTML, `<` is escaped too). */
function escapeMarkdown(s: string, lineStart: boolean): string {
  let out = s.replace(/[\\`*_~[\]<>|]/g, '\\$&');
  if (lineStart) {
    out = out.replace(/^(\s*)([#+-])(?=\s|$)/, '$1\\$2').replace(/^(\s*\d+)([.)])(?=\s|$)/, '$1\\$2');
  }
  return out;
}
