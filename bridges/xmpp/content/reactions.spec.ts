import { InboundReactionLedger, MAX_REACTION_KEYS, OutboundReactionLedger } from './reactions';

const ALICE = 'alice@example.org';
const BOB = 'bob@example.org';
const TARGET = 'sid-1';

describe(InboundReactionLedger.name, () => {
  it('turns full sets into react and unreact, naming the removed reaction by its event id', () => {
    const ledger = new InboundReactionLedger();
    expect(ledger.apply(ALICE, TARGET, ['👍', '🎉'], 'r1')).toEqual([
      { type: 'react', key: '👍', eventId: 'r1#0' },
      { type: 'react', key: '🎉', eventId: 'r1#1' },
    ]);
    expect(ledger.apply(ALICE, TARGET, ['🎉', '❤'], 'r2')).toEqual([
      { type: 'unreact', key: '👍', reactionEventId: 'r1#0' },
      { type: 'react', key: '❤', eventId: 'r2#1' },
    ]);
    expect(ledger.apply(BOB, TARGET, ['🎉'], 'r3')).toEqual([{ type: 'react', key: '🎉', eventId: 'r3#0' }]);
    expect(ledger.apply(ALICE, TARGET, [], 'r4').map((c) => c.type)).toEqual(['unreact', 'unreact']);
    expect(ledger.apply(ALICE, TARGET, [], 'r5')).toEqual([]);
  });

  it('forgets the oldest pairs beyond its bound', () => {
    const ledger = new InboundReactionLedger();
    for (let i = 0; i <= MAX_REACTION_KEYS; i++) ledger.apply(ALICE, `t${i}`, ['👍'], `e${i}`);
    expect(Object.keys(ledger.data)).toHaveLength(MAX_REACTION_KEYS);
    expect(ledger.apply(ALICE, 't0', [], 'x')).toEqual([]);
  });
});

describe(OutboundReactionLedger.name, () => {
  it('sends the actor’s own set in component mode', () => {
    const ledger = new OutboundReactionLedger();
    expect(ledger.setAfterAdd(ALICE, TARGET, '👍', false)).toEqual(['👍']);
    ledger.recordAdd(ALICE, TARGET, '👍', 'ev1');
    ledger.recordAdd(BOB, TARGET, '🎉', 'ev2');
    expect(ledger.setAfterAdd(ALICE, TARGET, '❤', false)).toEqual(['👍', '❤']);
    expect(ledger.find('ev1')).toEqual({ actor: ALICE, target: TARGET, emoji: '👍' });
    expect(ledger.setAfterRemove(ALICE, TARGET, '👍', false)).toEqual([]);
    ledger.recordRemove(ALICE, TARGET, '👍');
    expect(ledger.find('ev1')).toBeUndefined();
  });

  it('sends the union over actors in relay mode', () => {
    const ledger = new OutboundReactionLedger();
    ledger.recordAdd(ALICE, TARGET, '👍', 'ev1');
    ledger.recordAdd(BOB, TARGET, '👍', 'ev2');
    expect(ledger.setAfterAdd(BOB, TARGET, '🎉', true)).toEqual(['👍', '🎉']);
    // Alice removes her 👍: Bob's keeps it in the relay's set.
    expect(ledger.setAfterRemove(ALICE, TARGET, '👍', true)).toEqual(['👍']);
  });
});
