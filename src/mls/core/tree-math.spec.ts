/** Tree math (RFC 9420 Appendix C): the working group's tree-math vectors and a few unit tests. */
import { loadMlsVectors, VectorTally } from '../../../test/support/mls-vectors';
import {
  commonAncestor,
  copath,
  directPath,
  isLeaf,
  leafToNode,
  leafWidth,
  left,
  level,
  nodeToLeaf,
  nodeWidth,
  parent,
  right,
  root,
  sibling,
} from './tree-math';

interface TreeMathVector {
  n_leaves: number;
  n_nodes: number;
  root: number;
  left: (number | null)[];
  right: (number | null)[];
  parent: (number | null)[];
  sibling: (number | null)[];
}

const vectors = loadMlsVectors<TreeMathVector>('tree-math');
const tally = new VectorTally('tree-math');

afterAll(() => {
  tally.report();
});

/** The function's value, or null where the RFC's code raises (leaf children, root parent). */
function orNull(f: () => number): number | null {
  try {
    return f();
  } catch {
    return null;
  }
}

describe('tree-math vectors', () => {
  for (const v of vectors) {
    it(`${v.n_leaves} leaves`, () => {
      const n = v.n_leaves;
      expect(nodeWidth(n)).toBe(v.n_nodes);
      expect(leafWidth(v.n_nodes)).toBe(n);
      expect(root(n)).toBe(v.root);
      for (let i = 0; i < v.n_nodes; i++) {
        expect([i, orNull(() => left(i))]).toEqual([i, v.left[i]]);
        expect([i, orNull(() => right(i))]).toEqual([i, v.right[i]]);
        expect([i, orNull(() => parent(i, n))]).toEqual([i, v.parent[i]]);
        expect([i, orNull(() => sibling(i, n))]).toEqual([i, v.sibling[i]]);
      }
      tally.pass();
    });
  }

  it('checked every vector', () => {
    expect(tally.passed).toBeGreaterThan(0);
    expect(tally.passed).toBe(vectors.length);
  });
});

describe('tree math', () => {
  it('levels, leaves and indices', () => {
    expect([0, 1, 2, 3, 5, 7, 11, 15].map(level)).toEqual([0, 1, 0, 2, 1, 3, 2, 4]);
    expect(isLeaf(4)).toBe(true);
    expect(isLeaf(5)).toBe(false);
    expect(leafToNode(3)).toBe(6);
    expect(nodeToLeaf(6)).toBe(3);
    expect(() => nodeToLeaf(5)).toThrow();
  });

  it('direct path and copath in an 8-leaf tree', () => {
    expect(directPath(0, 8)).toEqual([1, 3, 7]);
    expect(copath(0, 8)).toEqual([2, 5, 11]);
    expect(directPath(10, 8)).toEqual([9, 11, 7]);
    expect(copath(10, 8)).toEqual([8, 13, 3]);
    expect(directPath(7, 8)).toEqual([]);
    expect(copath(7, 8)).toEqual([]);
  });

  it('common ancestor', () => {
    expect(commonAncestor(0, 2)).toBe(1);
    expect(commonAncestor(0, 6)).toBe(3);
    expect(commonAncestor(4, 10)).toBe(7);
    expect(commonAncestor(8, 8)).toBe(8);
    expect(commonAncestor(8, 11)).toBe(11);
    expect(commonAncestor(5, 6)).toBe(5);
  });

  it('stays exact beyond 32-bit node indices', () => {
    const n = 2 ** 32;
    expect(root(n)).toBe(2 ** 32 - 1);
    const lastLeaf = leafToNode(n - 1);
    expect(parent(lastLeaf, n)).toBe(lastLeaf - 1);
    expect(directPath(lastLeaf, n)).toHaveLength(32);
    expect(sibling(root(n) - 2 ** 31, n)).toBe(root(n) + 2 ** 31);
  });

  it('gives the same levels and parents on both sides of the 32-bit fast paths', () => {
    for (const k of [29, 30, 31, 32, 33]) {
      expect(level(2 ** k - 1)).toBe(k);
      expect(level(2 ** k - 2)).toBe(0);
      expect(level(2 ** k + 2 ** (k - 1) - 1)).toBe(k - 1);
    }
    const n = 2 ** 32;
    // Node 2^30 - 1 (level 30) is a left child; node 2^30 + 2^29 - 1 (level 29) a right child.
    expect(parent(2 ** 30 - 1, n)).toBe(2 ** 31 - 1);
    expect(parent(2 ** 30 + 2 ** 29 - 1, n)).toBe(2 ** 30 - 1);
    expect(parent(2 ** 31 - 2, n)).toBe(2 ** 31 - 3);
  });
});
