import type { ProviderDomain, UserUri } from '../common/ids';
import { cipherSuiteById } from './core/crypto';
import { propose, proposalMessage, epochKeys } from './core/group';
import { ProposalType, SenderType } from './core/structs';
import { GroupStore } from './gateway';
import { hubExternalSender } from './gateway/room-extensions';
import { InMemoryMlsStorage } from './mls-storage';
import { MlsGroupError } from './mls.errors';
import { inspectProposal } from './handshake-inspect';

const ALICE = 'mimi://a.example/u/alice' as UserUri;

async function aGroup() {
  const store = new GroupStore(new InMemoryMlsStorage());
  const hubKey = cipherSuiteById(1).signatureGenerateKeyPair();
  const group = await store.createGroup({
    groupId: new TextEncoder().encode('mimi://a.example/g/inspect'),
    creator: ALICE,
    hub: hubExternalSender('a.example' as ProviderDomain, hubKey.publicKey),
    participants: [{ user: ALICE, roleIndex: 3 }],
  });
  const id = (await store.identities.get(ALICE))!;
  return { group, signer: { leafIndex: 0, signaturePrivateKey: id.signaturePrivateKey } };
}

describe('inspectProposal (what the hub reads of a stand-alone proposal)', () => {
  it('reads the type and member sender of a SelfRemove and of a Remove sent as PublicMessages', async () => {
    const { group, signer } = await aGroup();
    const selfRemove = proposalMessage(group.coreState, signer, propose.selfRemove());
    expect(inspectProposal(selfRemove.message)).toEqual({
      proposalType: ProposalType.self_remove,
      senderType: SenderType.member,
      senderLeaf: 0,
    });
    const remove = proposalMessage(group.coreState, signer, propose.remove(0));
    expect(inspectProposal(remove.message)).toMatchObject({ proposalType: ProposalType.remove, senderLeaf: 0 });
  });

  it('refuses a PrivateMessage proposal, a commit and bytes that are no MLSMessage', async () => {
    const { group, signer } = await aGroup();
    const hidden = proposalMessage(group.coreState, signer, propose.remove(0), {
      privateWith: epochKeys(group.coreState),
    });
    expect(() => inspectProposal(hidden.message)).toThrow(/must be a PublicMessage/);
    const commit = await group.commit(ALICE, { forcePath: true });
    expect(() => inspectProposal(commit.commit)).toThrow(/not a proposal/);
    expect(() => inspectProposal(new Uint8Array([1, 2, 3]))).toThrow(MlsGroupError);
  });
});
