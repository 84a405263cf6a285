/**
 * What the soak sent, and what each view (a legacy room as its client sees it, a gateway's stored
 * history) shows of it: lost, duplicated, reordered. Pure; soak-ledger.spec.ts.
 *
 * Every soak post carries a tag in its text, `soak <room> <sender> <n>`, n counting up per sender
 * and room, so that any view can be read back without knowing the platform's IDs.
 */

/** How a send ended: `confirmed` (the platform accepted it), `unknown` (an error or timeout: it may or may not exist). */
type SendStatus = 'confirmed' | 'unknown';

export interface SentPost {
  readonly room: string;
  readonly sender: string;
  readonly n: number;
  readonly tag: string;
  readonly sentAt: number;
  status: SendStatus;
}

const TAG = /^soak (\S+) (\S+) (\d+)$/;

function postTag(room: string, sender: string, n: number): string {
  return `soak ${room} ${sender} ${n}`;
}

/** The tag a message text is, or undefined (edits, reactions and anything else are not posts). */
export function parseTag(text: string | undefined): { room: string; sender: string; n: number } | undefined {
  const m = TAG.exec((text ?? '').trim());
  return m ? { room: m[1]!, sender: m[2]!, n: Number(m[3]) } : undefined;
}

export class Ledger {
  private readonly posts = new Map<string, SentPost>();
  private readonly counters = new Map<string, number>();

  /** The next tag for `sender` in `room` (reserved: a failed send is not retried under the same tag). */
  next(room: string, sender: string): SentPost {
    const key = `${room} ${sender}`;
    const n = (this.counters.get(key) ?? 0) + 1;
    this.counters.set(key, n);
    const post: SentPost = { room, sender, n, tag: postTag(room, sender, n), sentAt: Date.now(), status: 'unknown' };
    this.posts.set(post.tag, post);
    return post;
  }

  get(tag: string): SentPost | undefined {
    return this.posts.get(tag);
  }

  all(): SentPost[] {
    return [...this.posts.values()];
  }

  inRoom(room: string): SentPost[] {
    return this.all().filter((p) => p.room === room);
  }
}

/** One view's verdict on the posts of its room. */
export interface ViewReport {
  readonly view: string;
  /** Confirmed posts the view does not show. */
  readonly lost: string[];
  /** Posts the view shows more than once (tag → count). */
  readonly duplicated: Record<string, number>;
  /** Posts shown after a later post of the same sender (per-sender order broken). */
  readonly reordered: string[];
  /** Posts shown that the ledger does not know (another run's, or corrupted). */
  readonly unknown: string[];
  /** Posts whose send was not confirmed and which did arrive. */
  readonly unconfirmedArrived: number;
}

/**
 * Check one view: `shown` is the tags in the view's order (anything not a tag already dropped).
 * Lost: confirmed posts of `room` missing, and the posts in `alsoExpected` (unconfirmed ones that
 * other views show); duplicated: any tag more than once; reordered: a confirmed post shown after a
 * higher number of the same sender (an unconfirmed send may legitimately land late).
 */
export function checkView(
  view: string,
  room: string,
  ledger: Ledger,
  shown: readonly string[],
  alsoExpected: ReadonlySet<string> = new Set(),
): ViewReport {
  const counts = new Map<string, number>();
  const highest = new Map<string, number>();
  const reordered: string[] = [];
  const unknown: string[] = [];
  for (const tag of shown) {
    counts.set(tag, (counts.get(tag) ?? 0) + 1);
    const post = ledger.get(tag);
    if (post === undefined || post.room !== room) {
      unknown.push(tag);
      continue;
    }
    if (counts.get(tag)! > 1 || post.status !== 'confirmed') continue;
    const top = highest.get(post.sender) ?? 0;
    if (post.n < top) reordered.push(tag);
    else highest.set(post.sender, post.n);
  }
  const duplicated: Record<string, number> = {};
  for (const [tag, n] of counts) if (n > 1) duplicated[tag] = n;
  const posts = ledger.inRoom(room);
  return {
    view,
    lost: posts
      .filter((p) => (p.status === 'confirmed' || alsoExpected.has(p.tag)) && !counts.has(p.tag))
      .map((p) => p.tag),
    duplicated,
    reordered,
    unknown,
    unconfirmedArrived: posts.filter((p) => p.status === 'unknown' && counts.has(p.tag)).length,
  };
}

/**
 * Gateways' stored histories of one room, each as its tags in stored order: the first gateway's
 * list is the reference; every other must be identical. Returns one line per difference.
 */
export function compareHistories(histories: Readonly<Record<string, readonly string[]>>): string[] {
  const entries = Object.entries(histories);
  if (entries.length < 2) return [];
  const [refName, ref] = entries[0]!;
  const out: string[] = [];
  for (const [name, h] of entries.slice(1)) {
    if (h.length !== ref.length) out.push(`${name} holds ${h.length} posts, ${refName} ${ref.length}`);
    const at = h.findIndex((t, i) => t !== ref[i]);
    if (at >= 0) out.push(`${name} differs from ${refName} at position ${at}: ${h[at]} vs ${ref[at] ?? '(none)'}`);
    const mine = new Set(h);
    const theirs = new Set(ref);
    const missing = ref.filter((t) => !mine.has(t));
    const extra = h.filter((t) => !theirs.has(t));
    if (missing.length > 0) out.push(`${name} lacks ${JSON.stringify(missing.slice(0, 5))}`);
    if (extra.length > 0) out.push(`${name} alone holds ${JSON.stringify(extra.slice(0, 5))}`);
  }
  return out;
}

/** The p-th percentile (0..100) of `values` (nearest rank); undefined when empty. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((x, y) => x - y);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}
