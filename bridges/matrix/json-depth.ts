/**
 * The nesting depth of parsed JSON, measured without recursion (RELIABILITY T31). `JSON.parse`
 * accepts any depth, but `JSON.stringify`, structured clones and most code that walks a value
 * recurse, and overflow the stack on a value nested some thousands deep: one such event in an
 * appservice transaction would fail the transaction, and the homeserver would retry it forever.
 */

/** Deeper than any event a homeserver produces (Synapse's JSON decoder stops near 1000). */
export const MAX_EVENT_DEPTH = 512;

/** True when `value` has arrays or objects nested more than `limit` levels (a scalar is depth 0). */
export function deeperThan(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth + 1 > limit) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}
