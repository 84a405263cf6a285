import type { ProviderDomain, UserUri } from '../../common/ids';
import { decodeFanoutBody, encodeFanoutBody } from '../../mimi/wire';
import { ProposalType, SenderType } from '../../mls';
import { makeMlsSamples } from '../../../test/kits/mimi/mls-samples';
import { proposalFanout, selfRemoveRefusal } from './hub-proposals';

const B = 'b.example' as ProviderDomain;
const BOB = 'mimi://b.example/u/bob' as UserUri;
const CAROL = 'mimi://c.example/u/carol' as UserUri;
const users: Record<number, UserUri> = { 1: BOB, 2: CAROL };
const userAt = (leaf: number): UserUri | undefined => users[leaf];
const selfRemove = (senderLeaf?: number, senderType: number = SenderType.member) => ({
  proposalType: ProposalType.self_remove,
  senderType,
  ...(senderLeaf === undefined ? {} : { senderLeaf }),
});

describe('selfRemoveRefusal (which stand-alone proposals the hub takes on /update)', () => {
  it("takes a SelfRemove of a client of one of the calling provider's users", () => {
    expect(selfRemoveRefusal(selfRemove(1), B, userAt)).toBeUndefined();
  });

  it("refuses a SelfRemove of another provider's user, of an empty leaf, or from a non-member", () => {
    expect(selfRemoveRefusal(selfRemove(2), B, userAt)).toBe(`${CAROL} is not a user of b.example`);
    expect(selfRemoveRefusal(selfRemove(7), B, userAt)).toBe('no MIMI user at leaf 7');
    expect(selfRemoveRefusal(selfRemove(undefined, SenderType.external), B, userAt)).toBe(
      'a SelfRemove must come from a member',
    );
  });

  it('refuses other proposal types alone: followers send commits for those', () => {
    expect(selfRemoveRefusal({ ...selfRemove(1), proposalType: ProposalType.remove }, B, userAt)).toBe(
      'proposal type 0x0003 is not accepted alone; send a commit',
    );
    expect(selfRemoveRefusal({ ...selfRemove(1), proposalType: ProposalType.app_data_update }, B, userAt)).toMatch(
      /0x0008 is not accepted alone/,
    );
  });
});

describe('proposalFanout', () => {
  it('is a FanoutMessage of kind proposal that decodes to the same proposal', async () => {
    const samples = await makeMlsSamples();
    const [m] = decodeFanoutBody(encodeFanoutBody([proposalFanout(samples.publicProposal, 1234)]));
    expect(m).toMatchObject({ messageKind: 'proposal', timestamp: 1234n, moreProposals: [] });
    expect(Buffer.from(m!.message)).toEqual(Buffer.from(samples.publicProposal));
  });
});
