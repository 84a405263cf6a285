/**
 * Which local members should rotate their leaf key (an UpdatePath commit, RFC 9420 §12.4.2) so
 * that the blank parent nodes above them get keys again.
 *
 * Adds without a path and removes (which blank the removed leaf's direct path, §12.1.3) leave
 * parent nodes blank, and a blank node's resolution is every non-blank node below it (§4.1.1):
 * the next path commit then encrypts its path secrets to nearly every leaf (about 1,000 HPKE
 * encryptions at 1,000 members). An UpdatePath sets every node of its committer's filtered
 * direct path, so one rotation per blank node, chosen top-down, refills the tree; after that a
 * path commit encrypts to about one node per level.
 */
import type { RatchetTree } from '../core/ratchet-tree';
import { isLeafUnder } from '../core/ratchet-tree';
import { level } from '../core/tree-math';

/**
 * Local leaves whose UpdatePath commits, made in this order, fill every blank parent node of
 * level `minLevel` or above that some local leaf's filtered direct path holds: highest blank
 * node first, each filled by the lowest local leaf under it not chosen yet; a node the path of
 * an earlier choice fills is not asked for again. At most `limit` leaves (none: the tree is not read).
 */
export function pathFillOrder(
  tree: RatchetTree,
  localLeaves: readonly number[],
  minLevel = 1,
  limit = Number.POSITIVE_INFINITY,
): number[] {
  // Asked after every message with limit 0 (`LeafKeyRotation`): the walk below is O(members).
  if (limit <= 0) return [];
  const leaves = [...localLeaves].filter((l) => l < tree.leafCount && tree.leafNode(l)).sort((a, b) => a - b);
  const pathOf = new Map(leaves.map((l) => [l, tree.filteredDirectPath(l)]));
  const blank = new Set<number>();
  for (const path of pathOf.values()) for (const x of path) if (level(x) >= minLevel && tree.isBlank(x)) blank.add(x);
  const order = [...blank].sort((a, b) => level(b) - level(a) || a - b);
  const filled = new Set<number>();
  const chosen: number[] = [];
  for (const x of order) {
    if (chosen.length >= limit) break;
    if (filled.has(x)) continue;
    const leaf = leaves.find((l) => isLeafUnder(l, x) && !chosen.includes(l) && pathOf.get(l)!.includes(x));
    if (leaf === undefined) continue;
    chosen.push(leaf);
    for (const y of pathOf.get(leaf)!) filled.add(y);
  }
  return chosen;
}
