/**
 * Real MLS values produced by ts-mls, for the wire tests: a two-member group and the messages
 * it sends, encoded by ts-mls itself. Test support only (imported by *.spec.ts).
 */
import {
  createApplicationMessage,
  createCommit,
  createGroup,
  createGroupInfoWithExternalPubAndRatchetTree,
  createProposal,
  defaultCapabilities,
  defaultLifetime,
  encodeMlsMessage,
  generateKeyPackage,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
  joinGroupExternal,
  type ClientState,
  type GroupInfo,
  type KeyPackage,
  type MLSMessage,
  type Welcome,
} from 'ts-mls';
import { TlsWriter } from '../../../src/codec/tls-codec';

const SAMPLE_CIPHERSUITE_NAME = 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519';
export const SAMPLE_CIPHERSUITE_ID = 1;
export const ALICE_URI = 'mimi://a.example/u/alice';
export const BOB_URI = 'mimi://b.example/u/bob';
const CAROL_URI = 'mimi://c.example/u/carol';
const DAVE_URI = 'mimi://d.example/u/dave';
export const SAMPLE_GROUP_ID = 'mimi://hub.example/r/wire-tests';

/** The 4-byte MLSMessage header (version mls10, wire_format) that wraps bare structs. */
const MLS_MESSAGE_HEADER_LENGTH = 4;

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
  /** The ts-mls values, for cross-checks */
  decoded: { keyPackage: KeyPackage; welcome: Welcome; groupInfo: GroupInfo };
}

const te = new TextEncoder();

function encode(m: MLSMessage): Uint8Array {
  return encodeMlsMessage(m);
}

function bare(m: MLSMessage): Uint8Array {
  return encode(m).slice(MLS_MESSAGE_HEADER_LENGTH);
}

async function member(uri: string, cs: Awaited<ReturnType<typeof getCiphersuiteImpl>>) {
  return generateKeyPackage(
    { credentialType: 'basic', identity: te.encode(uri) },
    defaultCapabilities(),
    defaultLifetime,
    [],
    cs,
  );
}

/** Build a group (Alice adds Bob), then record everything it produced. Takes well under a second. */
export async function makeMlsSamples(): Promise<MlsSamples> {
  const cs = await getCiphersuiteImpl(getCiphersuiteFromName(SAMPLE_CIPHERSUITE_NAME));
  const alice = await member(ALICE_URI, cs);
  const bob = await member(BOB_URI, cs);
  const carol = await member(CAROL_URI, cs);
  const dave = await member(DAVE_URI, cs);

  let state: ClientState = await createGroup(
    te.encode(SAMPLE_GROUP_ID),
    alice.publicPackage,
    alice.privatePackage,
    [],
    cs,
  );

  const addBob = await createCommit(
    { state, cipherSuite: cs },
    { wireAsPublicMessage: true, extraProposals: [{ proposalType: 'add', add: { keyPackage: bob.publicPackage } }] },
  );
  state = addBob.newState;
  if (addBob.welcome === undefined) throw new Error('ts-mls produced no Welcome for an Add');
  const welcome = addBob.welcome;

  const publicProposal = await createProposal(
    state,
    true,
    {
      proposalType: 'remove',
      remove: { removed: 1 },
    },
    cs,
  );
  const privateProposal = await createProposal(
    publicProposal.newState,
    false,
    { proposalType: 'add', add: { keyPackage: dave.publicPackage } },
    cs,
  );
  state = privateProposal.newState;

  const privateCommit = await createCommit({ state, cipherSuite: cs }, { wireAsPublicMessage: false });
  state = privateCommit.newState;

  const app = await createApplicationMessage(state, te.encode('hello from the wire tests'), cs);
  state = app.newState;

  const groupInfo = await createGroupInfoWithExternalPubAndRatchetTree(state, [], cs);
  const treeExtension = groupInfo.extensions.find((e) => e.extensionType === 'ratchet_tree');
  if (treeExtension === undefined) throw new Error('ts-mls GroupInfo has no ratchet_tree extension');

  const external = await joinGroupExternal(groupInfo, carol.publicPackage, carol.privatePackage, false, cs);

  const version = 'mls10' as const;
  return {
    publicCommit: encode(addBob.commit),
    privateCommit: encode(privateCommit.commit),
    externalCommit: encode({ version, wireformat: 'mls_public_message', publicMessage: external.publicMessage }),
    publicProposal: encode(publicProposal.message),
    privateProposal: encode(privateProposal.message),
    applicationMessage: encode({ version, wireformat: 'mls_private_message', privateMessage: app.privateMessage }),
    welcomeMessage: encode({ version, wireformat: 'mls_welcome', welcome }),
    groupInfoMessage: encode({ version, wireformat: 'mls_group_info', groupInfo }),
    keyPackageMessage: encode({ version, wireformat: 'mls_key_package', keyPackage: bob.publicPackage }),
    keyPackage: bare({ version, wireformat: 'mls_key_package', keyPackage: bob.publicPackage }),
    keyPackage2: bare({ version, wireformat: 'mls_key_package', keyPackage: carol.publicPackage }),
    welcome: bare({ version, wireformat: 'mls_welcome', welcome }),
    groupInfo: bare({ version, wireformat: 'mls_group_info', groupInfo }),
    ratchetTree: treeExtension.extensionData,
    decoded: { keyPackage: bob.publicPackage, welcome, groupInfo },
  };
}

/** mls-extensions-09 proposal types, by their suggested values. */
const PROPOSAL_APP_DATA_UPDATE = 0x0008;
const COMPONENT_PARTICIPANT_LIST = 0x0022;

/**
 * A PublicMessage(proposal) from member 0 carrying a standard-encoded AppDataUpdate of the
 * participant_list component: what MIMI sends for roster changes, which ts-mls cannot produce.
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
