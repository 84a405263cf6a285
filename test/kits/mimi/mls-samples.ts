/**
 * Real MLS values produced by our own MLS (src/mls/core, src/mls/gateway), for the wire tests: a
 * group (the creator adds a second member) and the messages it sends. Test support only (imported
 * by *.spec.ts).
 */
import type { ProviderDomain, UserUri } from '../../../src/common/ids';
import { TlsWriter } from '../../../src/codec/tls-codec';
import { GroupStore, InMemoryMlsStorage, unframeMlsMessage } from '../../../src/mls';
import { cipherSuiteById } from '../../../src/mls/core/crypto';
import { createCommit, epochKeys, propose, proposalMessage } from '../../../src/mls/core/group';
import { hubExternalSender } from '../../../src/mls/gateway/room-extensions';
import { decodeKeyPackage } from '../../../src/mls/core/key-package';

export const SAMPLE_CIPHERSUITE_ID = 1;
export const ALICE_URI = 'mimi://a.example/u/alice';
export const BOB_URI = 'mimi://b.example/u/bob';
const CAROL_URI = 'mimi://c.example/u/carol';
const DAVE_URI = 'mimi://d.example/u/dave';
export const SAMPLE_GROUP_ID = 'mimi://hub.example/g/wire-tests';

export interface MlsSamples {
  /** MLSMessage encodings */
  publicCommit: Uint8Array;
  privateCommit: Uint8Array;
  externalCommit: Uint8Array;
  publicProposal: Uint8Array;
  privateProposal: Uint8Array;
  applicationMessage: Uint8Array;
  welcomeMessage: Uint8Array;
  groupInfoMessage: Uint8Array;
  keyPackageMessage: Uint8Array;
  /** Bare RFC 9420 structs */
  keyPackage: Uint8Array;
  keyPackage2: Uint8Array;
  welcome: Uint8Array;
  groupInfo: Uint8Array;
  /** `optional<Node> ratchet_tree<V>` as in the ratchet_tree extension, prefix included */
  ratchetTree: Uint8Array;
}

const te = new TextEncoder();
const u = (s: string): UserUri => s as UserUri;

/** Build a group (Alice adds Bob), then record everything it produced. Takes well under a second. */
export async function makeMlsSamples(): Promise<MlsSamples> {
  const alice = new GroupStore(new InMemoryMlsStorage());
  const others = new GroupStore(new InMemoryMlsStorage());
  const joiner = new GroupStore(new InMemoryMlsStorage());
  const hubKey = cipherSuiteById(SAMPLE_CIPHERSUITE_ID).signatureGenerateKeyPair();
  const group = await alice.createGroup({
    groupId: te.encode(SAMPLE_GROUP_ID),
    creator: u(ALICE_URI),
    hub: hubExternalSender('hub.example' as ProviderDomain, hubKey.publicKey),
    participants: [
      { user: u(ALICE_URI), roleIndex: 3 },
      { user: u(BOB_URI), roleIndex: 3 },
    ],
  });
  const bob = await others.createKeyPackage(u(BOB_URI));
  const carol = await others.createKeyPackage(u(CAROL_URI));
  const dave = await others.createKeyPackage(u(DAVE_URI));
  const addBob = await group.commit(u(ALICE_URI), { add: [bob.keyPackage] });
  if (addBob.welcome === undefined) throw new Error('no Welcome for an Add');

  const id = (await alice.identities.get(u(ALICE_URI)))!;
  const signer = { leafIndex: 0, signaturePrivateKey: id.signaturePrivateKey };
  const state = group.coreState;
  const publicProposal = proposalMessage(state, signer, propose.remove(1));
  const privateProposal = proposalMessage(publicProposal.state, signer, propose.add(decodeKp(dave.keyPackage)), {
    privateWith: epochKeys(publicProposal.state),
  });
  const privateCommit = createCommit(privateProposal.state, {
    committer: signer,
    proposals: [propose.remove(1)],
    privateWith: epochKeys(privateProposal.state),
  });
  const applicationMessage = await group.encrypt(u(ALICE_URI), te.encode('hello from the wire tests'));
  const info = await group.groupInfo();
  const external = await joiner.joinExternal(u(CAROL_URI), info.groupInfo, { ratchetTree: info.ratchetTree });

  return {
    publicCommit: addBob.commit,
    privateCommit: privateCommit.commitMessage,
    externalCommit: external.commit,
    publicProposal: publicProposal.message,
    privateProposal: privateProposal.message,
    applicationMessage,
    welcomeMessage: addBob.welcome,
    groupInfoMessage: info.groupInfoMessage,
    keyPackageMessage: bob.mlsMessage,
    keyPackage: bob.keyPackage,
    keyPackage2: carol.keyPackage,
    welcome: unframeMlsMessage(addBob.welcome),
    groupInfo: info.groupInfo,
    ratchetTree: info.ratchetTree,
  };
}

function decodeKp(bytes: Uint8Array) {
  return decodeKeyPackage(bytes);
}

/** mls-extensions-09 proposal types, by their suggested values. */
const PROPOSAL_APP_DATA_UPDATE = 0x0008;
const COMPONENT_PARTICIPANT_LIST = 0x0022;

/**
 * A PublicMessage(proposal) from member 0 carrying a standard-encoded AppDataUpdate of the
 * participant_list component: what MIMI sends for roster changes, built by hand so the bytes are exactly known.
 */
export function appDataUpdateProposal(update: Uint8Array, epoch = 1n): Uint8Array {
  const w = new TlsWriter();
  w.uint16(1); // mls10
  w.uint16(1); // mls_public_message
  w.opaque(te.encode(SAMPLE_GROUP_ID));
  w.uint64(epoch);
  w.uint8(1); // sender_type member
  w.uint32(0); // leaf_index
  w.opaque(new Uint8Array(0)); // authenticated_data
  w.uint8(2); // content_type proposal
  w.uint16(PROPOSAL_APP_DATA_UPDATE);
  w.uint16(COMPONENT_PARTICIPANT_LIST);
  w.uint8(1); // op update
  w.opaque(update);
  w.opaque(new Uint8Array(64)); // signature
  w.opaque(new Uint8Array(32)); // membership_tag
  return w.finish();
}

/** An RFC 9420 basic Credential for `uri`. */
export function basicCredential(uri: string): Uint8Array {
  const w = new TlsWriter();
  w.uint16(1);
  w.opaque(te.encode(uri));
  return w.finish();
}

/** RFC 9420 Capabilities / RequiredCapabilities from lists of uint16. */
export function uint16Lists(...lists: number[][]): Uint8Array {
  const w = new TlsWriter();
  for (const list of lists) w.vector(list, (ww, n) => ww.uint16(n));
  return w.finish();
}
