import fc from 'fast-check';
import { MatrixIds } from '../matrix/matrix-ids';
import { puppetLocalpart, userUriOfPuppetLocalpart } from '../xmpp/protocol/puppet-jid';
import { LocalpartCodec, matrixLocalparts, xmppLocalparts } from './localpart-codec';

/**
 * Golden values: what each bridge produced before the codec moved into the kit. Ghost user IDs and
 * puppet JIDs are identities stored on the platforms; if one of these changes, existing ghosts and
 * puppets get new IDs.
 */
const GOLDEN: readonly (readonly [local: string, ghost: string, puppet: string, alias: string])[] = [
  ['alice', '@_mimi_peer.example_alice:hs.example', 'alice=peer.example', '#_mimi_peer.example_alice:hs.example'],
  [
    'Dave_O.K',
    '@_mimi_peer.example_=44ave=5f=4f.=4b:hs.example',
    '_44ave_5f_4f._4b=peer.example',
    '#_mimi_peer.example_=44ave=5f=4f.=4b:hs.example',
  ],
  [
    'zoë',
    '@_mimi_peer.example_zo=c3=ab:hs.example',
    'zo_c3_ab=peer.example',
    '#_mimi_peer.example_zo=c3=ab:hs.example',
  ],
  ['a b', '@_mimi_peer.example_a=20b:hs.example', 'a_20b=peer.example', '#_mimi_peer.example_a=20b:hs.example'],
  [
    '@bob:hs',
    '@_mimi_peer.example_=40bob=3ahs:hs.example',
    '_40bob_3ahs=peer.example',
    '#_mimi_peer.example_=40bob=3ahs:hs.example',
  ],
  [
    '%40alice%3Ahs',
    '@_mimi_peer.example_=2540alice=253=41hs:hs.example',
    '_2540alice_253_41hs=peer.example',
    '#_mimi_peer.example_=2540alice=253=41hs:hs.example',
  ],
  [
    'matrix:%40alice%3Ahs.example',
    '@_mimi_peer.example_matrix=3a=2540alice=253=41hs.example:hs.example',
    'matrix_3a_2540alice_253_41hs.example=peer.example',
    '#_mimi_peer.example_matrix=3a=2540alice=253=41hs.example:hs.example',
  ],
  [
    '🎉',
    '@_mimi_peer.example_=f0=9f=8e=89:hs.example',
    '_f0_9f_8e_89=peer.example',
    '#_mimi_peer.example_=f0=9f=8e=89:hs.example',
  ],
  [
    'x=y_z',
    '@_mimi_peer.example_x=3dy=5fz:hs.example',
    'x_3dy_5fz=peer.example',
    '#_mimi_peer.example_x=3dy=5fz:hs.example',
  ],
  [
    '-._~',
    '@_mimi_peer.example_-.=5f=7e:hs.example',
    '-._5f_7e=peer.example',
    '#_mimi_peer.example_-.=5f=7e:hs.example',
  ],
  [
    'ÄÖ',
    '@_mimi_peer.example_=c3=84=c3=96:hs.example',
    '_c3_84_c3_96=peer.example',
    '#_mimi_peer.example_=c3=84=c3=96:hs.example',
  ],
];

describe(LocalpartCodec.name, () => {
  const ids = new MatrixIds('_mimi_', 'hs.example', 'mimibot');

  it.each(GOLDEN)('keeps the IDs both bridges gave %j before the kit', (local, ghost, puppet, alias) => {
    const user = `mimi://peer.example/u/${local}`;
    expect(ids.ghostUserId(user)).toBe(ghost);
    expect(ids.userUriOfGhost(ghost)).toBe(user);
    expect(ids.portalAlias(`mimi://peer.example/r/${local}`)).toBe(alias);
    expect(puppetLocalpart(user)).toBe(puppet);
    expect(userUriOfPuppetLocalpart(puppet)).toBe(user);
  });

  it('is one escaping: the platforms differ only in the escape character', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        const m = matrixLocalparts.encode(s);
        expect(xmppLocalparts.encode(s)).toBe(m.replace(/=/g, '_'));
        expect(matrixLocalparts.decode(m)).toBe(s);
        expect(xmppLocalparts.decode(xmppLocalparts.encode(s))).toBe(s);
      }),
    );
  });

  it('decodes only the canonical spelling', () => {
    expect(matrixLocalparts.decode('=61')).toBeUndefined(); // 'a' is written as itself
    expect(xmppLocalparts.decode('_61')).toBeUndefined();
    expect(xmppLocalparts.decode('_C3_A9')).toBeUndefined(); // upper-case hex
    expect(xmppLocalparts.decode('_ff')).toBeUndefined(); // not UTF-8
    expect(matrixLocalparts.decode('a_b')).toBeUndefined(); // the other platform's escape
  });
});
