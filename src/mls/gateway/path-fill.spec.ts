/**
 * Path filling: after an add of many members without a path, a path commit encrypts to nearly
 * every leaf; once the members `pathFillCandidates` names have rotated, to about one node per
 * level, and the follower still decrypts.
 */
import { decodeMlsMessage } from '../core/framing';
import { ContentType, WireFormat } from '../core/structs';
import { bot, participant, puppet, remote, scaledGroup, TEXT, UTF8 } from './gateway.fixtures';
import { pathFillOrder } from './path-fill';

/** HPKE ciphertexts in a commit's UpdatePath (0 without a path). */
function pathCiphertexts(commit: Uint8Array): number {
  const m = decodeMlsMessage(commit);
  if (m.wireFormat !== WireFormat.mls_public_message) throw new Error('not a PublicMessage');
  const c = m.publicMessage.content;
  if (c.contentType !== ContentType.commit) throw new Error('not a commit');
  return (c.commit.path?.nodes ?? []).reduce((n, node) => n + node.encryptedPathSecret.length, 0);
}

describe('path filling by leaf-key rotation', () => {
  it('a path commit encrypts to ~1 node per level once the named members rotated; the follower keeps up', async () => {
    const s = await scaledGroup('fill', 63, 1);
    const g = s.group;
    const f = s.followerGroup!;
    const everyone = [bot(), ...s.locals, ...s.remotes];
    // The tree the adds left: parents blank, a path goes to nearly every leaf.
    const before = await g.commit(bot(), { forcePath: true, includePending: false });
    await f.processMessage(before.commit);
    expect(pathCiphertexts(before.commit)).toBeGreaterThan(32);

    const order = g.pathFillCandidates();
    expect(order.length).toBeGreaterThan(0);
    expect(new Set(order).size).toBe(order.length);
    for (const user of order) {
      const staged = await g.rotateLeafKey(user);
      await g.mergeStagedCommit();
      expect((await f.processMessage(staged.commit)).kind).toBe('commit');
    }
    expect(g.pathFillCandidates()).toEqual([]);

    const joiner = remote(99);
    const kp = (await s.follower.createKeyPackage(joiner)).keyPackage;
    await f.processMessage(
      (await g.commit(bot(), { add: [kp], participants: [...everyone, joiner].map(participant) })).commit,
    );
    const removal = await g.commit(bot(), { removeUsers: [joiner], participants: everyone.map(participant) });
    expect((await f.processMessage(removal.commit)).kind).toBe('commit');
    // 64 leaves: 6 levels; the removed leaf's blanked path adds a few nodes.
    expect(pathCiphertexts(removal.commit)).toBeLessThanOrEqual(12);

    const got = await f.processMessage(await g.encrypt(puppet(5), TEXT.encode('still here')));
    expect(got.kind === 'application' && UTF8.decode(got.plaintext)).toBe('still here');
  });

  it('pathFillOrder: highest blank node first, one leaf per node not filled by an earlier choice', async () => {
    const s = await scaledGroup('order', 7, 0);
    const tree = s.group.coreState.tree;
    // 8 leaves, all local, every parent blank: leaf 0 fills 3, 1, 7 (root); then 5 needs leaf 4;
    // 9 needs leaf 2, 13 needs leaf 6.
    expect(pathFillOrder(tree, [0, 1, 2, 3, 4, 5, 6, 7])).toEqual([0, 4, 2, 6]);
    expect(pathFillOrder(tree, [0, 1, 2, 3, 4, 5, 6, 7], 2)).toEqual([0, 4]);
    expect(pathFillOrder(tree, [0, 1, 2, 3, 4, 5, 6, 7], 1, 1)).toEqual([0]);
    expect(pathFillOrder(tree, [5])).toEqual([5]);
  });

  it('with a limit of 0 (asked after every message), the tree is not walked', async () => {
    const s = await scaledGroup('none', 7, 0);
    const tree = s.group.coreState.tree;
    const walk = jest.spyOn(tree, 'filteredDirectPath');
    expect(pathFillOrder(tree, [0, 1, 2, 3, 4, 5, 6, 7], 1, 0)).toEqual([]);
    expect(s.group.pathFillCandidates(0)).toEqual([]);
    expect(walk).not.toHaveBeenCalled();
    expect(pathFillOrder(tree, [0, 1, 2, 3, 4, 5, 6, 7], 1, 1)).toEqual([0]);
    expect(walk).toHaveBeenCalled();
  });
});
