/**
 * The storage property the gateway layer exists for: bytes written per message are O(1) (one
 * ratchet row) and per commit O(tree) once for the group, NOT O(tree × local puppets) as with one
 * full client state per puppet. Counted through a wrapping MlsStorage; no timings.
 */
import { bot, participant, puppet, scaledGroup, TEXT, type ScaledGroup } from './gateway.fixtures';

interface Sizes {
  members: number;
  locals: number;
  perMessageSend: number;
  perMessageReceive: number;
  perCommitAppData: number;
  perCommitAdd: number;
}

async function measure(x: ScaledGroup): Promise<Sizes> {
  const { group, hubStorage, followerStorage, followerGroup } = x;
  const sends: number[] = [];
  const receives: number[] = [];
  for (let i = 0; i < 5; i++) {
    const sender = x.locals[i % x.locals.length]!;
    const sent = await hubStorage.measure(() => group.encrypt(sender, TEXT.encode(`message ${i} of ${sender}`)));
    sends.push(sent.bytes);
    const received = await followerStorage.measure(() => followerGroup!.processMessage(sent.result));
    receives.push(received.bytes);
  }
  const participants = [...group.summary().participants];
  const appData = await hubStorage.measure(() =>
    group.commit(bot(), { participants: participants.map((p, i) => (i === 1 ? { ...p, roleIndex: 3 } : p)) }),
  );
  const newcomer = puppet(10_000);
  const add = await hubStorage.measure(() =>
    group.commit(bot(), { addLocal: [newcomer], participants: [...participants, participant(newcomer)] }),
  );
  return {
    members: group.summary().members.length,
    locals: group.summary().localMembers.length,
    perMessageSend: Math.max(...sends),
    perMessageReceive: Math.max(...receives),
    perCommitAppData: appData.bytes,
    perCommitAdd: add.bytes,
  };
}

describe('bytes written per message and per commit', () => {
  let few: Sizes;
  let many: Sizes;
  let small: Sizes;

  beforeAll(async () => {
    // The same tree size (111 members), 10 vs 100 local puppets.
    few = await measure(await scaledGroup('few-local', 10, 100));
    many = await measure(await scaledGroup('many-local', 100, 10));
    // A tenth of the tree.
    small = await measure(await scaledGroup('small', 10, 1));
    process.stdout.write(`storage bytes ${JSON.stringify({ few, many, small })}\n`);
  }, 120_000);

  it('writes one small ratchet row per message, whatever the group size', () => {
    for (const s of [few, many, small]) {
      expect(s.perMessageSend).toBeLessThan(200);
      expect(s.perMessageReceive).toBeLessThan(200);
    }
    expect(many.perMessageSend).toBeLessThanOrEqual(small.perMessageSend + 8);
  });

  it('writes a commit once for the group: 100 local puppets cost less than 3x 10 local puppets', () => {
    expect(few.members).toBe(many.members);
    expect(many.perCommitAppData).toBeLessThan(3 * few.perCommitAppData);
    expect(many.perCommitAdd).toBeLessThan(3 * few.perCommitAdd);
  });

  it('is O(tree) per commit: bounded bytes per member', () => {
    for (const s of [few, many, small]) {
      expect(s.perCommitAppData / s.members).toBeLessThan(1200);
      expect(s.perCommitAdd / s.members).toBeLessThan(1200);
    }
    // 10x the members costs about 10x per commit, not 100x (tree x puppets).
    expect(many.perCommitAppData).toBeLessThan(20 * small.perCommitAppData);
  });
});
