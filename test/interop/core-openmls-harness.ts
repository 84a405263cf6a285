/**
 * The harness of the interop specs between OUR MLS core (src/mls/core) and openmls
 * (`core-openmls.spec.ts`, and scenarios kept aside until the core is fixed): our side of a group (`OurMember`: GroupState, epoch secret trees, signer; commits,
 * proposals, messages), and `scenarioKit`, which starts one openmls peer per describe block and
 * offers the helpers the scenarios share (state comparison, messages both ways, an openmls
 * group with our member in it).
 */
import { cipherSuiteById, type CipherSuite, type KeyPair } from '../../src/mls/core/crypto';
import { decodeMlsMessage, encodeMlsMessage } from '../../src/mls/core/framing';
import {
  createCommit,
  createGroup,
  epochAuthenticator,
  epochKeys,
  exportSecret,
  groupInfo,
  joinByExternalCommit,
  joinFromWelcome,
  processCommit,
  processProposal,
  proposalMessage,
  proposeUpdate,
  protect,
  unprotect,
  type CreateCommitOptions,
  type ExternalCommitOptions,
  type GroupState,
  type LocalSigner,
} from '../../src/mls/core/group';
import { contextBytes } from '../../src/mls/core/group/common';
import {
  createKeyPackage,
  decodeKeyPackage,
  defaultCapabilities,
  type CreatedKeyPackage,
} from '../../src/mls/core/key-package';
import { RatchetTree } from '../../src/mls/core/ratchet-tree';
import type { SecretTree } from '../../src/mls/core/secret-tree';
import {
  ContentType,
  CredentialType,
  WireFormat,
  type Credential,
  type Extension,
  type KeyPackage,
  type Proposal,
} from '../../src/mls/core/structs';
import { OpenMlsPeer, type PeerCapabilities, type PeerVariant, hex, text, utf8 } from './openmls-peer';

export { describePeer, hex, text, utf8 } from './openmls-peer';

// ---- our side ------------------------------------------------------------------------------------------

/** A client of our core: identity, signature key pair. */
export interface OurClient {
  readonly suite: CipherSuite;
  readonly identity: string;
  readonly credential: Credential;
  readonly signature: KeyPair;
}

function ourClient(identity: string, suite: CipherSuite): OurClient {
  return {
    suite,
    identity,
    credential: { credentialType: CredentialType.basic, identity: utf8(identity) },
    signature: suite.signatureGenerateKeyPair(),
  };
}

export function ourKeyPackage(client: OurClient): CreatedKeyPackage {
  return createKeyPackage({
    suite: client.suite,
    credential: client.credential,
    signatureKey: client.signature.publicKey,
    signaturePrivateKey: client.signature.privateKey,
  });
}

/**
 * One member of a group on our core: the immutable GroupState, the secret trees of the epochs it
 * has seen (kept by epoch for late messages), its leaf and signature key.
 */
export class OurMember {
  private readonly trees = new Map<bigint, SecretTree>();
  private current!: GroupState;

  constructor(
    readonly client: OurClient,
    state: GroupState,
    public leaf: number,
  ) {
    this.state = state;
  }

  get state(): GroupState {
    return this.current;
  }

  /** A new epoch's secret tree is made when the epoch starts (late messages of it need it later). */
  set state(next: GroupState) {
    this.current = next;
    if (!this.trees.has(next.context.epoch)) this.trees.set(next.context.epoch, epochKeys(next));
  }

  get signer(): LocalSigner {
    return { leafIndex: this.leaf, signaturePrivateKey: this.client.signature.privateKey };
  }

  get epoch(): bigint {
    return this.state.context.epoch;
  }

  private keysFor = (epoch: bigint): SecretTree | undefined => this.trees.get(epoch);

  /** The current epoch's secret tree (for handshake messages sent as PrivateMessages). */
  get epochTree(): SecretTree {
    return this.trees.get(this.epoch)!;
  }

  /** An application message (MLSMessage PrivateMessage). */
  encrypt(plaintext: string, authenticatedData?: Uint8Array): Uint8Array {
    return protect(this.state, this.keysFor(this.epoch)!, this.signer, utf8(plaintext), {
      ...(authenticatedData ? { authenticatedData } : {}),
    });
  }

  /** Decrypt an application message. */
  decrypt(message: Uint8Array): { text: string; senderLeaf: number; aad: Uint8Array } {
    const u = unprotect(this.state, decodeMlsMessage(message), this.keysFor);
    if (u.applicationData === undefined) {
      throw new Error(`not application data (content type ${u.content.content.contentType})`);
    }
    return { text: text(u.applicationData), senderLeaf: u.senderLeaf, aad: u.content.content.authenticatedData };
  }

  /** A commit of ours (`asPrivate`: a PrivateMessage); the state moves to the new epoch. */
  commit(options: Omit<CreateCommitOptions, 'committer' | 'privateWith'> & { asPrivate?: boolean } = {}): {
    commit: Uint8Array;
    welcome?: Uint8Array;
  } {
    const { asPrivate, ...rest } = options;
    const created = createCommit(this.state, {
      committer: this.signer,
      ...rest,
      ...(asPrivate ? { privateWith: this.epochTree } : {}),
    });
    this.state = created.state;
    return { commit: created.commitMessage, ...(created.welcome ? { welcome: created.welcome } : {}) };
  }

  /** A proposal of ours (PublicMessage, or PrivateMessage `asPrivate`), cached for our own later commit. */
  propose(proposal: Proposal, asPrivate = false): { message: Uint8Array; ref: Uint8Array } {
    const sent = proposalMessage(this.state, this.signer, proposal, asPrivate ? { privateWith: this.epochTree } : {});
    this.state = sent.state;
    return { message: sent.message, ref: sent.ref };
  }

  /** An Update proposal of ours (fresh leaf key, kept pending until a commit applies it). */
  proposeUpdate(asPrivate = false): { message: Uint8Array; ref: Uint8Array } {
    const sent = proposeUpdate(this.state, this.signer, asPrivate ? { privateWith: this.epochTree } : {});
    this.state = sent.state;
    return { message: sent.message, ref: sent.ref };
  }

  /** A handshake message from elsewhere (PublicMessage or PrivateMessage): commit or proposal. */
  process(bytes: Uint8Array): 'commit' | 'proposal' | 'removed' {
    const m = decodeMlsMessage(bytes);
    let contentType: number;
    if (m.wireFormat === WireFormat.mls_public_message) contentType = m.publicMessage.content.contentType;
    else if (m.wireFormat === WireFormat.mls_private_message) contentType = m.privateMessage.contentType;
    else throw new Error(`not a handshake message: wire format ${m.wireFormat}`);
    if (contentType === ContentType.proposal) {
      this.state = processProposal(this.state, m, this.epochTree).state;
      return 'proposal';
    }
    return this.took(processCommit(this.state, m, { epochKeys: this.epochTree }));
  }

  private took(processed: { state?: GroupState }): 'commit' | 'removed' {
    if (!processed.state) return 'removed';
    this.state = processed.state;
    return 'commit';
  }

  /** The GroupInfo of the current epoch as an MLSMessage, with external_pub. */
  groupInfo(withTree: boolean): Uint8Array {
    const info = groupInfo(this.state, this.signer, { ratchetTree: withTree });
    return encodeMlsMessage({ wireFormat: WireFormat.mls_group_info, groupInfo: info });
  }
}

/** Our member joining from an openmls Welcome, with the tree out of band. */
export function joinOurs(
  client: OurClient,
  kp: CreatedKeyPackage,
  welcome: Uint8Array,
  ratchetTree?: Uint8Array,
): OurMember {
  const joined = joinFromWelcome(decodeMlsMessage(welcome), kp, {
    ...(ratchetTree ? { ratchetTree: RatchetTree.fromBytes(ratchetTree) } : {}),
  });
  return new OurMember(client, joined.state, joined.leafIndex);
}

/** Our client joining by external commit from a GroupInfo (MLSMessage bytes). */
export function joinOursExternally(
  client: OurClient,
  groupInfoMessage: Uint8Array,
  options: ExternalCommitOptions = {},
): { member: OurMember; commit: Uint8Array } {
  const joined = joinByExternalCommit(
    decodeMlsMessage(groupInfoMessage),
    {
      leafFields: {
        signatureKey: client.signature.publicKey,
        credential: client.credential,
        capabilities: defaultCapabilities(),
        extensions: [],
      },
      signaturePrivateKey: client.signature.privateKey,
    },
    options,
  );
  return { member: new OurMember(client, joined.state, joined.leafIndex), commit: joined.commitMessage };
}

/** Our member creating a group (its leaf from a fresh KeyPackage of ours). */
export function createOurs(client: OurClient, groupId: Uint8Array, extensions: Extension[] = []): OurMember {
  const kp = ourKeyPackage(client);
  const state = createGroup({
    suite: client.suite,
    groupId,
    extensions,
    creator: {
      leafNode: kp.keyPackage.leafNode,
      encryptionPrivateKey: kp.encryptionPrivateKey,
      signaturePrivateKey: client.signature.privateKey,
    },
  });
  return new OurMember(client, state, 0);
}

/** openmls clients list what our groups use: AppDataUpdate, SelfRemove, app_data_dictionary. */
export const PEER_CAPS: PeerCapabilities = { proposals: [8, 0x000a], extensions: [6] };

/** What the scenarios of one describe block share: the peer, our suite, and helpers. */
export interface ScenarioKit {
  /** The running openmls peer (started in beforeAll). */
  readonly peer: OpenMlsPeer;
  readonly suite: CipherSuite;
  readonly suiteId: number;
  /** Distinguishes the describe blocks (variant and suite) in identities and group ids. */
  readonly tag: string;
  /** Registers a scenario test unless the block's `only` set leaves it out. */
  scenario(id: string, title: string, fn: () => Promise<void>): void;
  /** A client of ours on the block's suite. */
  us(identity: string): OurClient;
  gid(s: string): Uint8Array;
  /** A unique openmls client name per scenario. */
  name(scenario: string, who: string): string;
  newPeerClient(n: string): Promise<void>;
  /** Our view equals openmls's (epoch, GroupContext bytes, tree hash, tree, authenticator, exporter). */
  expectSame(ours: OurMember, peerName: string, groupId: Uint8Array): Promise<void>;
  /** Messages both ways between our member and an openmls member. */
  expectMessagesFlow(ours: OurMember, peerName: string, groupId: Uint8Array): Promise<void>;
  /**
   * An openmls group made by `<scenario>-alice`, which adds our member (leaf 1) and then the
   * openmls clients `others` (leaves 2, 3 ...) in one commit; everyone joins from the Welcome.
   */
  peerGroupWithUs(
    scenario: string,
    opts?: { create?: Parameters<OpenMlsPeer['createGroup']>[2]; others?: string[] },
  ): Promise<{ g: Uint8Array; alice: string; others: string[]; bob: OurMember }>;
  /** An openmls group of `<scenario>-alice` alone (group id `gid(scenario)`). */
  peerGroup(
    scenario: string,
    create?: Parameters<OpenMlsPeer['createGroup']>[2],
  ): Promise<{ g: Uint8Array; alice: string }>;
  /** A fresh openmls KeyPackage, decoded by us. */
  peerKeyPackage(n: string): Promise<KeyPackage>;
}

/** Starts an openmls peer of `variant` for the enclosing describe block (beforeAll/afterAll). */
export function scenarioKit(variant: PeerVariant, suiteId = 1, only?: ReadonlySet<string>): ScenarioKit {
  let peer!: OpenMlsPeer;
  const suite = cipherSuiteById(suiteId);
  const tag = `${variant === 'plain' ? 'p' : 'x'}${suiteId}`;
  /** A scenario test, unless `only` leaves it out. */
  const scenario = (id: string, title: string, fn: () => Promise<void>): void => {
    if (!only || only.has(id)) it(`${id}: ${title}`, fn);
  };
  const us = (identity: string): OurClient => ourClient(identity, suite);
  const gid = (s: string): Uint8Array => utf8(`core-openmls-${tag}-${s}`);
  /** A unique openmls client name per scenario. */
  const name = (scenario: string, who: string): string => `${scenario}-${who}`;

  beforeAll(async () => {
    peer = await OpenMlsPeer.start({ variant });
  });
  afterAll(async () => {
    await peer?.close();
  });

  async function newPeerClient(n: string): Promise<void> {
    await peer.newClient(n, `mimi://openmls.example/u/${n}`, { suite: suiteId, capabilities: PEER_CAPS });
  }

  /** Our view equals openmls's (epoch, GroupContext bytes, tree hash, tree, authenticator, exporter). */
  async function expectSame(ours: OurMember, peerName: string, groupId: Uint8Array): Promise<void> {
    const theirs = await peer.state(peerName, groupId);
    expect(BigInt(theirs.epoch)).toBe(ours.epoch);
    expect(hex(contextBytes(ours.state.context))).toBe(hex(theirs.groupContext));
    expect(hex(ours.state.context.treeHash)).toBe(hex(theirs.treeHash));
    expect(hex(ours.state.tree.toBytes())).toBe(hex(theirs.ratchetTree));
    expect(hex(epochAuthenticator(ours.state))).toBe(hex(theirs.epochAuthenticator));
    const ctx = utf8(`ctx ${ours.epoch}`);
    expect(hex(exportSecret(ours.state, 'mimi interop', ctx, 32))).toBe(
      hex(await peer.exportSecret(peerName, groupId, 'mimi interop', ctx, 32)),
    );
  }

  /** Messages both ways between our member and an openmls member. */
  async function expectMessagesFlow(ours: OurMember, peerName: string, groupId: Uint8Array): Promise<void> {
    const fromUs = `from our leaf ${ours.leaf} in epoch ${ours.epoch}`;
    const atPeer = await peer.process(peerName, ours.encrypt(fromUs));
    expect(atPeer.kind).toBe('application');
    if (atPeer.kind === 'application') {
      expect(text(atPeer.plaintext)).toBe(fromUs);
      expect(atPeer.senderLeaf).toBe(ours.leaf);
    }
    const fromPeer = `from ${peerName} in epoch ${ours.epoch}`;
    const got = ours.decrypt(await peer.encrypt(peerName, groupId, utf8(fromPeer)));
    expect(got.text).toBe(fromPeer);
  }

  /**
   * An openmls group made by `<scenario>-alice`, which adds our member (leaf 1) and then the
   * openmls clients `others` (leaves 2, 3 ...) in one commit; everyone joins from the Welcome.
   */
  async function peerGroupWithUs(
    scenario: string,
    opts: { create?: Parameters<OpenMlsPeer['createGroup']>[2]; others?: string[] } = {},
  ): Promise<{ g: Uint8Array; alice: string; others: string[]; bob: OurMember }> {
    const { g, alice } = await peerGroup(scenario, opts.create);
    const others = (opts.others ?? []).map((w) => name(scenario, w));
    for (const n of others) await newPeerClient(n);
    const client = us(`mimi://core.example/u/bob-${tag}-${scenario}`);
    const kp = ourKeyPackage(client);
    const otherKps = await Promise.all(others.map(async (n) => (await peer.keyPackage(n)).keyPackage));
    const add = await peer.add(alice, g, [kp.mlsMessage, ...otherKps]);
    // With the ratchet_tree extension in the Welcome nobody needs the tree out of band.
    const tree = opts.create?.ratchetTreeExtension ? undefined : add.ratchetTree;
    const bob = joinOurs(client, kp, add.welcome!, tree);
    expect(bob.leaf).toBe(1);
    // Joiners take the creator's wire format, padding and past-epoch settings.
    const { wireFormat, padding, maxPastEpochs } = opts.create ?? {};
    const joinOptions = { wireFormat, padding, maxPastEpochs };
    for (const n of others) await peer.joinWelcome(n, add.welcome!, tree, joinOptions);
    return { g, alice, others, bob };
  }

  /** An openmls group of `<scenario>-alice` alone (group id `gid(scenario)`). */
  async function peerGroup(
    scenario: string,
    create?: Parameters<OpenMlsPeer['createGroup']>[2],
  ): Promise<{ g: Uint8Array; alice: string }> {
    const g = gid(scenario);
    const alice = name(scenario, 'alice');
    await newPeerClient(alice);
    await peer.createGroup(alice, g, create);
    return { g, alice };
  }

  /** A fresh openmls KeyPackage, decoded by us. */
  async function peerKeyPackage(n: string): Promise<KeyPackage> {
    return decodeKeyPackage((await peer.keyPackage(n)).keyPackage);
  }

  return {
    get peer() {
      return peer;
    },
    suite,
    suiteId,
    tag,
    scenario,
    us,
    gid,
    name,
    newPeerClient,
    expectSame,
    expectMessagesFlow,
    peerGroupWithUs,
    peerGroup,
    peerKeyPackage,
  };
}
