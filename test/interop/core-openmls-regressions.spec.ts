/**
 * Interop scenarios between our MLS core and openmls that first failed because of our core, kept
 * as regressions:
 *
 * c8, c9: a required_capabilities that names default extension/proposal types. RFC 9420 §11.1:
 * default types "are assumed to be implemented by all clients, and need not be listed"; §7.2:
 * they MUST NOT be listed in capabilities. openmls skips them; our core used to demand them in
 * every leaf's capabilities (now `supportsRequiredCapabilities` in group/leaf-validation.ts).
 *
 * c13: our Update proposal committed by openmls: the committer's UpdatePath is encrypted to our
 * NEW leaf key, which waits in `state.pendingLeafKeys`; group/process-commit.ts used to give
 * only `state.privateKeys` to decryptUpdatePath.
 */
import { propose } from '../../src/mls/core/group';
import { ExtensionType } from '../../src/mls/core/structs';
import { describePeer, hex, scenarioKit } from './core-openmls-harness';
import type { OpenMlsPeer, PeerVariant } from './openmls-peer';

function regressions(variant: PeerVariant): void {
  const kit = scenarioKit(variant);
  const { scenario, name, newPeerClient, expectSame, expectMessagesFlow, peerGroupWithUs, peerKeyPackage } = kit;
  let peer: OpenMlsPeer;
  beforeAll(() => {
    peer = kit.peer;
  });

  scenario(
    'c8',
    'openmls group whose required_capabilities list default types (never listed in capabilities)',
    async () => {
      // RFC 9420 §7.2: default types MUST NOT be listed in capabilities and are always supported,
      // so a required_capabilities naming one is met by every leaf. openmls skips them when it checks.
      const { g, alice, bob } = await peerGroupWithUs('c8', {
        create: { requiredCapabilities: { extensions: [ExtensionType.external_senders], proposals: [1, 0x000a] } },
      });
      await expectSame(bob, alice, g);
      const charlie = name('c8', 'charlie');
      await newPeerClient(charlie);
      const c = bob.commit({ proposals: [propose.add(await peerKeyPackage(charlie))] });
      await peer.process(alice, c.commit);
      await peer.joinWelcome(charlie, c.welcome!);
      await expectSame(bob, charlie, g);
      const u = bob.commit({ forcePath: true });
      for (const n of [alice, charlie]) await peer.process(n, u.commit);
      await expectSame(bob, alice, g);
    },
  );

  scenario('c9', 'openmls GroupContextExtensions with a required_capabilities naming default types', async () => {
    const { g, alice, bob } = await peerGroupWithUs('c9');
    const gce = await peer.send('update_extensions', {
      name: alice,
      group_id: hex(g),
      required_capabilities: { extensions: [ExtensionType.external_senders], proposals: [2] },
    });
    expect(bob.process(Buffer.from(String(gce.commit), 'hex'))).toBe('commit');
    await expectSame(bob, alice, g);
  });

  scenario('c13', 'our Update proposal, committed by openmls with a path encrypted to our new leaf key', async () => {
    const { g, alice, others, bob } = await peerGroupWithUs('c13', { others: ['charlie'] });
    const charlie = others[0]!;
    const before = hex(bob.state.tree.leafNode(bob.leaf)!.encryptionKey);
    const upd = bob.proposeUpdate();
    for (const n of [alice, charlie]) expect((await peer.process(n, upd.message)).kind).toBe('proposal');
    // alice commits it (with her own path: encrypted to our new leaf key).
    const c = await peer.commitPending(alice, g, { force_self_update: true });
    expect(bob.process(c.commit)).toBe('commit');
    await peer.process(charlie, c.commit);
    expect(hex(bob.state.tree.leafNode(bob.leaf)!.encryptionKey)).not.toBe(before);
    await expectSame(bob, alice, g);
    // And the next path commits still reach us, both ways.
    const u2 = await peer.selfUpdate(charlie, g);
    expect(bob.process(u2.commit)).toBe('commit');
    await peer.process(alice, u2.commit);
    await expectSame(bob, charlie, g);
    // Our Update and charlie's in one commit by alice.
    const mine = bob.proposeUpdate();
    const theirs = Buffer.from(
      String((await peer.send('propose_self_update', { name: charlie, group_id: hex(g) })).proposal),
      'hex',
    );
    expect(bob.process(theirs)).toBe('proposal');
    for (const n of [alice, charlie]) await peer.process(n, mine.message);
    await peer.process(alice, theirs);
    const c3 = await peer.commitPending(alice, g);
    expect(bob.process(c3.commit)).toBe('commit');
    await peer.process(charlie, c3.commit);
    await expectSame(bob, alice, g);
    const u3 = bob.commit({ forcePath: true });
    for (const n of [alice, charlie]) await peer.process(n, u3.commit);
    await expectSame(bob, charlie, g);
    await expectMessagesFlow(bob, charlie, g);
  });
}

jest.setTimeout(60_000);

describePeer('our MLS core <-> openmls (extensions-draft build)', 'extensions', () => regressions('extensions'));
describePeer('our MLS core <-> openmls (RFC 9420 build)', 'plain', () => regressions('plain'));
