/**
 * The openmls interop harness itself, openmls ↔ openmls through the OpenMlsPeer driver: group
 * creation, Add + Welcome, application messages both ways, a removal, an external join from a
 * GroupInfo, equal exporter secrets; and, on the `extensions` build, SelfRemove and AppDataUpdate.
 * Our own MLS stack's interop specs build on this driver.
 *
 * Needs the Rust binaries from `bash test/interop/build.sh`. Under CI (CI set) a missing binary
 * fails the suite; elsewhere the suite is skipped with a warning.
 */
import { OpenMlsPeer, describePeer, hex, text, utf8 } from './openmls-peer';

describePeer('openmls interop peer (RFC 9420 build)', 'plain', () => {
  let peer: OpenMlsPeer;
  const gid = utf8('interop-group-1');

  beforeAll(async () => {
    peer = await OpenMlsPeer.start();
  });
  afterAll(async () => {
    await peer?.close();
  });

  it('reports its openmls version and build', async () => {
    expect(await peer.features()).toEqual({ openmls: '0.9.2', extensionsDraft: false });
  });

  it('runs a group: add by KeyPackage, Welcome, messages both ways, removal, external join, exporter', async () => {
    await peer.newClient('alice', 'mimi://a.example/u/alice');
    const bob = await peer.newClient('bob', 'mimi://b.example/u/bob');
    await peer.newClient('charlie', 'mimi://c.example/u/charlie');

    await peer.createGroup('alice', gid);
    const kp = await peer.keyPackage('bob');
    // KeyPackage version 1 (mls10), suite 1; the MLSMessage form is version || wire_format 5 || KeyPackage.
    expect(hex(kp.keyPackage.subarray(0, 4))).toBe('00010001');
    expect(hex(kp.mlsMessage.subarray(0, 4))).toBe('00010005');
    expect(hex(kp.mlsMessage.subarray(4))).toBe(hex(kp.keyPackage));

    // Adding by the bare KeyPackage; the Welcome needs the ratchet tree out of band (no extension).
    const add = await peer.add('alice', gid, [kp.keyPackage]);
    expect(add.epoch).toBe(1);
    expect(add.welcome).toBeDefined();
    expect(hex(add.commit.subarray(0, 4))).toBe('00010001'); // handshake as PublicMessage by default
    const joined = await peer.joinWelcome('bob', add.welcome!, add.ratchetTree);
    expect(joined).toEqual({ groupId: gid, epoch: 1, ownLeaf: 1 });

    const toBob = await peer.encrypt('alice', gid, utf8('hi bob'));
    expect(hex(toBob.subarray(0, 4))).toBe('00010002'); // PrivateMessage
    const atBob = await peer.process('bob', toBob);
    expect(atBob.kind).toBe('application');
    if (atBob.kind === 'application') {
      expect(text(atBob.plaintext)).toBe('hi bob');
      expect(atBob.senderLeaf).toBe(0);
    }
    const atAlice = await peer.process('alice', await peer.encrypt('bob', gid, utf8('hi alice')));
    expect(atAlice.kind === 'application' && text(atAlice.plaintext)).toBe('hi alice');

    // Charlie joins by external commit from alice's GroupInfo.
    const gi = await peer.groupInfo('alice', gid);
    const ext = await peer.joinExternal('charlie', gi.groupInfo, gi.ratchetTree);
    expect(ext.epoch).toBe(2);
    expect(ext.ownLeaf).toBe(2);
    for (const member of ['alice', 'bob']) {
      const p = await peer.process(member, ext.commit);
      expect(p.kind === 'commit' && p.newEpoch).toBe(2);
      expect(p.raw.sender).toEqual({ type: 'new_member_commit' });
    }

    // Alice removes bob; charlie follows, bob learns he is out.
    const rm = await peer.remove('alice', gid, [1]);
    expect(rm.epoch).toBe(3);
    const atCharlie = await peer.process('charlie', rm.commit);
    expect(atCharlie.kind === 'commit' && atCharlie.newEpoch).toBe(3);
    const atBobRm = await peer.process('bob', rm.commit);
    expect(atBobRm.kind === 'commit' && atBobRm.selfRemoved).toBe(true);

    const alice = await peer.state('alice', gid);
    const charlie = await peer.state('charlie', gid);
    expect(alice.members.map((m) => [m.leafIndex, m.identity])).toEqual([
      [0, 'mimi://a.example/u/alice'],
      [2, 'mimi://c.example/u/charlie'],
    ]);
    expect(alice.members.some((m) => hex(m.signatureKey) === hex(bob.signatureKey))).toBe(false);
    expect(hex(charlie.groupContext)).toBe(hex(alice.groupContext));
    expect(hex(charlie.epochAuthenticator)).toBe(hex(alice.epochAuthenticator));
    expect(hex(charlie.ratchetTree)).toBe(hex(alice.ratchetTree));

    const ctx = utf8('ctx');
    const a = await peer.exportSecret('alice', gid, 'mimi interop', ctx, 32);
    const c = await peer.exportSecret('charlie', gid, 'mimi interop', ctx, 32);
    expect(a).toHaveLength(32);
    expect(hex(c)).toBe(hex(a));
    expect(hex(await peer.exportSecret('alice', gid, 'other label', ctx, 32))).not.toBe(hex(a));

    // Messages still flow in the new epoch, both ways.
    const m1 = await peer.process('charlie', await peer.encrypt('alice', gid, utf8('epoch 3')));
    expect(m1.kind === 'application' && text(m1.plaintext)).toBe('epoch 3');
    const m2 = await peer.process('alice', await peer.encrypt('charlie', gid, utf8('back')));
    expect(m2.kind === 'application' && m2.senderLeaf).toBe(2);
  });

  it('answers errors with the openmls error and keeps serving', async () => {
    const bad = await peer.sendRaw('process', { name: 'alice', message: '0001' });
    expect(typeof bad.error).toBe('string');
    expect((await peer.sendRaw('no_such_command')).error).toMatch(/unknown command/);
    await expect(peer.send('state', { name: 'nobody', group_id: '00' })).rejects.toThrow(/no client named/);
    expect((await peer.state('alice', gid)).epoch).toBe(3);
  });
});

describePeer('openmls interop peer (extensions-draft build)', 'extensions', () => {
  let peer: OpenMlsPeer;
  const gid = utf8('interop-group-ext');
  // SelfRemove (0x000a) and AppDataUpdate (8) proposals, app_data_dictionary (6) extension.
  const capabilities = { proposals: [0x000a, 8], extensions: [6] };

  beforeAll(async () => {
    peer = await OpenMlsPeer.start({ variant: 'extensions' });
  });
  afterAll(async () => {
    await peer?.close();
  });

  it('reports the extensions build', async () => {
    expect((await peer.features()).extensionsDraft).toBe(true);
  });

  it('commits AppDataUpdate proposals and a SelfRemove', async () => {
    await peer.newClient('alice', 'mimi://a.example/u/alice', { capabilities });
    await peer.newClient('bob', 'mimi://b.example/u/bob', { capabilities });
    await peer.createGroup('alice', gid, { requiredCapabilities: capabilities });
    const add = await peer.add('alice', gid, [(await peer.keyPackage('bob')).keyPackage]);
    await peer.joinWelcome('bob', add.welcome!, add.ratchetTree);

    // AppDataUpdate for component 0x8001 committed by alice (the peer's semantics: Update replaces).
    const upd = await peer.commitPending('alice', gid, {
      app_data_updates: [{ component_id: 0x8001, data: hex(utf8('v1')) }],
    });
    const atBob = await peer.process('bob', upd.commit);
    expect(atBob.kind === 'commit' && atBob.newEpoch).toBe(upd.epoch);
    const dict = (await peer.state('bob', gid)).extensions.find((e) => e.type === 6);
    expect(dict).toBeDefined();
    expect(hex(dict!.data)).toContain(hex(utf8('v1')));
    expect(hex((await peer.state('alice', gid)).groupContext)).toBe(hex((await peer.state('bob', gid)).groupContext));

    // Bob leaves with SelfRemove; alice commits it.
    const sr = await peer.send('propose_self_remove', { name: 'bob', group_id: hex(gid) });
    const atAlice = await peer.process('alice', Buffer.from(String(sr.proposal), 'hex'));
    expect(atAlice.kind).toBe('proposal');
    const commit = await peer.commitPending('alice', gid);
    const atBob2 = await peer.process('bob', commit.commit);
    expect(atBob2.kind === 'commit' && atBob2.selfRemoved).toBe(true);
    expect((await peer.state('alice', gid)).members.map((m) => m.leafIndex)).toEqual([0]);
  });
});
