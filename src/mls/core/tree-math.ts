/**
 * Array-based tree math (RFC 9420 §4.2, Appendix C). Nodes are numbered left to right, leaves
 * at even indices; a tree of n leaves (n a power of two in RFC 9420) has 2n - 1 nodes. Indices
 * are plain numbers: arithmetic rather than 32-bit bit operations, so trees of up to 2^32 leaves
 * (node indices up to 2^33) stay exact.
 */
import { MlsProtocolError } from './errors';

/** Floor of log2(x); 0 for x = 0. */
function log2(x: number): number {
  if (x === 0) return 0;
  if (x < 2 ** 32) return 31 - Math.clz32(x);
  let k = 0;
  while (2 ** (k + 1) <= x) k++;
  return k;
}

/** Leaves are level 0; a parent is one above its highest child. The number of trailing 1 bits. */
export function level(x: number): number {
  if (x < 2 ** 31) {
    // Fast path (the hot one: every direct path walks it): x fits a 32-bit signed integer.
    let j = 0;
    while ((x >> j) & 1) j++;
    return j;
  }
  let k = 0;
  while (Math.floor(x / 2 ** k) % 2 === 1) k++;
  return k;
}

export function isLeaf(x: number): boolean {
  return x % 2 === 0;
}

/** Number of nodes of a tree with n leaves. */
export function nodeWidth(n: number): number {
  return n === 0 ? 0 : 2 * (n - 1) + 1;
}

/** Number of leaves of a tree with w nodes (inverse of nodeWidth). */
export function leafWidth(w: number): number {
  return w === 0 ? 0 : (w - 1) / 2 + 1;
}

export function root(n: number): number {
  return 2 ** log2(nodeWidth(n)) - 1;
}

export function leafToNode(leaf: number): number {
  return leaf * 2;
}

export function nodeToLeaf(node: number): number {
  if (!isLeaf(node)) throw new MlsProtocolError('invalid', `node ${node} is not a leaf`);
  return node / 2;
}

export function left(x: number): number {
  const k = level(x);
  if (k === 0) throw new MlsProtocolError('invalid', `leaf node ${x} has no children`);
  return x - 2 ** (k - 1);
}

export function right(x: number): number {
  const k = level(x);
  if (k === 0) throw new MlsProtocolError('invalid', `leaf node ${x} has no children`);
  return x + 2 ** (k - 1);
}

/** The parent of x in a tree with n leaves. */
export function parent(x: number, n: number): number {
  if (x === root(n)) throw new MlsProtocolError('invalid', `root node ${x} has no parent`);
  return ancestorStep(x, level(x));
}

export function sibling(x: number, n: number): number {
  const p = parent(x, n);
  return x < p ? right(p) : left(p);
}

/** The direct path of x, leaf to root, excluding x itself and including the root. */
export function directPath(x: number, n: number): number[] {
  const r = root(n);
  const d: number[] = [];
  while (x !== r) {
    x = parent(x, n);
    d.push(x);
  }
  return d;
}

/** The copath of x: the sibling of x and of every node of its direct path except the root. */
export function copath(x: number, n: number): number[] {
  const r = root(n);
  const c: number[] = [];
  while (x !== r) {
    c.push(sibling(x, n));
    x = parent(x, n);
  }
  return c;
}

/** The lowest node that is x or y or an ancestor of both. */
export function commonAncestor(x: number, y: number): number {
  let lx = level(x);
  let ly = level(y);
  // Climb the lower node until both are at the same level, then both until they meet.
  while (x !== y) {
    if (lx <= ly) {
      x = ancestorStep(x, lx);
      lx++;
    } else {
      y = ancestorStep(y, ly);
      ly++;
    }
  }
  return x;
}

/**
 * The parent of x (at level k) in the unbounded tree. Bit k+1 of x says whether x is a right
 * child (the parent is below it) or a left child (above).
 */
function ancestorStep(x: number, k: number): number {
  if (x < 2 ** 30 && k < 29) return (x >> (k + 1)) & 1 ? x - (1 << k) : x + (1 << k);
  const step = 2 ** k;
  return Math.floor(x / 2 ** (k + 1)) % 2 === 1 ? x - step : x + step;
}
