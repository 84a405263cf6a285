/**
 * One MLS client ("puppet") for one user the gateway speaks for (MIMI-NOTES §0.1): it holds the
 * user's signature key pair, publishes KeyPackages, joins groups, encrypts and decrypts
 * application messages and processes and creates commits. Every state change is written through
 * to `MlsStorage` before the call returns, so a restarted gateway resumes where it stopped.
 *
 * Why write-through before returning: MLS derives a fresh key and nonce per message from a ratchet
 * (RFC 9420 §9). If a ciphertext left the process while the advanced ratchet was not yet stored, a
 * restart would encrypt the next message with the same key and nonce. So `encrypt` stores the new
 * state first and only then hands out the ciphertext.
 */
import { Logger } from '@nestjs/common';
import {
  type AuthenticationService,
  type CiphersuiteImpl,
  type ClientConfig,
  type ClientState,
  type Credential,
  type Extension,
  type GroupState,
  type IncomingMessageCallback,
  type KeyPackage,
  type MLSMessage,
  type PrivateKeyPackage,
  type Proposal,
  acceptAll,
  createApplicationMessage,
  createCommit,
  createGroup,
  createGroupInfoWithExternalPub,
  decodeGroupState,
  defaultCapabilities,
  defaultKeyPackageEqualityConfig,
  defaultKeyRetentionConfig,
  defaultLifetimeConfig,
  defaultPaddingConfig,
  emptyPskIndex,
  encodeGroupState,
  encodeMlsMessage,
  generateKeyPackageWithKey,
  joinGroup,
  joinGroupExternal,
  makePskIndex,
  processMessage as processTsMlsMessage,
  zeroOutUint8Array,
} from 'ts-mls';
import { ErrorCode, GatewayError } from '../common/errors';
import type { UserUri } from '../common/ids';
import {
  APP_DATA_DICTIONARY_EXTENSION_TYPE,
  type Participant,
  participantListFromExtensions,
  withParticipantList,
} from './app-data';
import { mimiAuthenticationService, signContent, userCredential } from './credentials';
import { mlsCiphersuite } from './crypto';
import {
  type MlsSender,
  type TreeMember,
  decodeMlsMessageBytes,
  groupInfoFromBytes,
  groupInfoToBytes,
  keyPackageFromBytes,
  keyPackageToBytes,
  membersOfRatchetTree,
  ratchetTreeFromBytes,
  ratchetTreeToBytes,
  welcomeFromBytes,
  welcomeToBytes,
} from './mls-message';
import type { MlsStorage } from './mls-storage';
import { MlsErrorReason, MlsGroupError, toMlsGroupError } from './mls.errors';
import { TlsReader, writeTls } from '../codec/tls-codec';
import { decryptSenderData, makeKeyPackageRef } from './ts-mls-internals';

export interface MemberClientOptions {
  readonly storage: MlsStorage;
  /** Default: the MIMI cipher suite on node:crypto (`mlsCiphersuite()`). */
  readonly cipherSuite?: CiphersuiteImpl;
  /** Credential policy for leaves and external senders. Default: `mimiAuthenticationService`. */
  readonly authService?: AuthenticationService;
  /**
   * How many past epochs' receive keys to keep, so application messages sent just before a commit
   * still decrypt after it. Older messages fail with `EpochTooOld`. Default 4 (ts-mls's default).
   */
  readonly pastEpochs?: number;
  /** Validity of new KeyPackages. Default 28 days. */
  readonly keyPackageLifetimeSeconds?: number;
  /** Wall clock in ms (KeyPackage lifetimes). Default `Date.now`. */
  readonly now?: () => number;
  /** Policy hook: accept or reject each incoming proposal and commit. Default: accept all. */
  readonly onIncoming?: IncomingMessageCallback;
}

/** A KeyPackage this client published; its private keys stay in storage until a Welcome uses them. */
export interface PublishedKeyPackage {
  /** The bare RFC 9420 `KeyPackage` struct (protocol-06 §5.2 `ClientKeyMaterial.keyPackage`). */
  readonly keyPackage: Uint8Array;
  /** Its KeyPackageRef (RFC 9420 §5.2), which a Welcome names in `secrets[].new_member`. */
  readonly ref: Uint8Array;
}

/** What this client knows about one of its groups. */
export interface GroupSummary {
  readonly groupId: Uint8Array;
  readonly epoch: bigint;
  readonly ownLeafIndex: number;
  readonly members: readonly TreeMember[];
  /** The MIMI participant list in the GroupContext (empty when the group has none). */
  readonly participants: readonly Participant[];
  /** False once a commit removed this client. */
  readonly active: boolean;
  /** Proposals received and not yet committed. */
  readonly pendingProposals: number;
  readonly commitStaged: boolean;
}

/** Changes for one commit. Participant-list changes go in the same commit as the Adds/Removes (protocol-06 §5.3). */
export interface GroupChanges {
  /** Bare KeyPackages of clients to add. */
  readonly add?: readonly Uint8Array[];
  /** Leaf indices of clients to remove. */
  readonly remove?: readonly number[];
  /** The complete new participant list, committed as a GroupContextExtensions proposal. */
  readonly participants?: readonly Participant[];
}

/**
 * A commit created but not yet applied locally. The caller sends `commit` (+ `welcome`) to the hub
 * and then calls `mergeStagedCommit` on `success` or `discardStagedCommit` on `wrongEpoch`.
 */
export interface StagedCommit {
  readonly groupId: Uint8Array;
  /** The epoch the group enters when the commit is applied. */
  readonly epoch: bigint;
  /** MLSMessage (PublicMessage, so the hub can read it: protocol-06 §5.3). */
  readonly commit: Uint8Array;
  /** Bare `Welcome` for the added clients, without the ratchet tree (send `ratchetTree` beside it). */
  readonly welcome?: Uint8Array;
  /** KeyPackageRefs of the added clients, for routing the Welcome (protocol-06 §5.5). */
  readonly joiners: readonly Uint8Array[];
  /** Bare `GroupInfo` of the new epoch (with `external_pub`, without the tree). */
  readonly groupInfo: Uint8Array;
  /** Ratchet tree of the new epoch (`RatchetTreeOption.full` payload). */
  readonly ratchetTree: Uint8Array;
}

/** GroupInfo and ratchet tree for an external join (protocol-06 §5.6 `GroupInfoRatchetTreeTBE`). */
export interface GroupInfoBundle {
  readonly groupId: Uint8Array;
  readonly epoch: bigint;
  /** Bare `GroupInfo` with `external_pub`, without the tree. */
  readonly groupInfo: Uint8Array;
  readonly ratchetTree: Uint8Array;
}

/** The outcome of `processMessage`. */
export type ProcessedMessage =
  | {
      readonly kind: 'application';
      readonly groupId: Uint8Array;
      readonly epoch: bigint;
      /** The sending leaf; its credential's user is the authenticated sender. */
      readonly sender: TreeMember;
      /** The application_data (MIMI content CBOR, opaque here). */
      readonly plaintext: Uint8Array;
      readonly authenticatedData: Uint8Array;
    }
  | {
      readonly kind: 'proposal';
      readonly groupId: Uint8Array;
      readonly epoch: bigint;
      readonly sender: MlsSender;
      /** The proposal type; `undefined` when it was rejected (and so not queued) or already queued. */
      readonly proposalType: Proposal['proposalType'] | undefined;
      /** False when `onIncoming` rejected it (it is then not queued). */
      readonly accepted: boolean;
    }
  | {
      readonly kind: 'commit';
      readonly groupId: Uint8Array;
      /** The epoch after the commit (unchanged when rejected or when it removed this client). */
      readonly epoch: bigint;
      readonly committer: MlsSender;
      readonly accepted: boolean;
      /** This client was removed by the commit and can no longer read the group. */
      readonly removedSelf: boolean;
      /** The commit was this client's own staged commit, which is now merged. */
      readonly ownCommit: boolean;
      /** A staged commit of this client lost the race for the epoch and was dropped. */
      readonly discardedStagedCommit: boolean;
    }
  | {
      /** This client's own message came back (hubs may echo, protocol-06 §5.5); nothing changed. */
      readonly kind: 'echo';
      readonly groupId: Uint8Array;
      readonly epoch: bigint;
    };

const RECORD_VERSION = 1;
const DEFAULT_PAST_EPOCHS = 4;
const DEFAULT_KEY_PACKAGE_LIFETIME_SECONDS = 28 * 24 * 3600;
/** KeyPackages start being valid a little in the past, so peers with a slow clock accept them. */
const KEY_PACKAGE_CLOCK_SKEW_SECONDS = 3600;

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

const b64url = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

/** Storage keys (see mls-storage.ts). */
export const mlsStorageKeys = {
  client: (user: UserUri): string => `mls/client/${encodeURIComponent(user)}`,
  groupPrefix: (user: UserUri): string => `mls/group/${encodeURIComponent(user)}/`,
  group: (user: UserUri, groupId: Uint8Array): string => `mls/group/${encodeURIComponent(user)}/${b64url(groupId)}`,
  keyPackagePrefix: (user: UserUri): string => `mls/kp/${encodeURIComponent(user)}/`,
  keyPackage: (user: UserUri, ref: Uint8Array): string => `mls/kp/${encodeURIComponent(user)}/${b64url(ref)}`,
};

interface Identity {
  readonly user: UserUri;
  readonly cipherSuite: string;
  readonly signaturePublicKey: Uint8Array;
  readonly signaturePrivateKey: Uint8Array;
}

function encodeIdentity(id: Identity): Uint8Array {
  return writeTls((w) => {
    w.uint8(RECORD_VERSION);
    w.opaque(utf8.encode(id.user));
    w.opaque(utf8.encode(id.cipherSuite));
    w.opaque(id.signaturePublicKey);
    w.opaque(id.signaturePrivateKey);
  });
}

function readVersion(r: TlsReader): void {
  const version = r.uint8();
  if (version !== RECORD_VERSION) r.fail(`unknown record version ${version}`);
}

function readUtf8(r: TlsReader): string {
  const raw = r.opaque();
  try {
    return utf8Strict.decode(raw);
  } catch {
    return r.fail('invalid UTF-8');
  }
}

function decodeIdentity(bytes: Uint8Array): Identity {
  const r = new TlsReader(bytes, 'MemberClient identity');
  readVersion(r);
  const id = {
    user: readUtf8(r) as UserUri,
    cipherSuite: readUtf8(r),
    signaturePublicKey: r.opaque(),
    signaturePrivateKey: r.opaque(),
  };
  r.done();
  return id;
}

function encodeGroupRecord(state: GroupState): Uint8Array {
  return writeTls((w) => {
    w.uint8(RECORD_VERSION);
    w.opaque(encodeGroupState(state));
  });
}

function decodeGroupRecord(bytes: Uint8Array): GroupState {
  const r = new TlsReader(bytes, 'MemberClient group');
  readVersion(r);
  const inner = r.opaque();
  r.done();
  const decoded = decodeGroupState(inner, 0);
  if (decoded === undefined || decoded[1] !== inner.length) return r.fail('cannot decode ts-mls GroupState');
  return decoded[0];
}

interface StoredKeyPackage {
  readonly publicPackage: KeyPackage;
  readonly initPrivateKey: Uint8Array;
  readonly hpkePrivateKey: Uint8Array;
}

function encodeKeyPackageRecord(kp: StoredKeyPackage): Uint8Array {
  return writeTls((w) => {
    w.uint8(RECORD_VERSION);
    w.opaque(keyPackageToBytes(kp.publicPackage));
    w.opaque(kp.initPrivateKey);
    w.opaque(kp.hpkePrivateKey);
  });
}

function decodeKeyPackageRecord(bytes: Uint8Array): StoredKeyPackage {
  const r = new TlsReader(bytes, 'MemberClient key package');
  readVersion(r);
  const record = {
    publicPackage: keyPackageFromBytes(r.opaque()),
    initPrivateKey: r.opaque(),
    hpkePrivateKey: r.opaque(),
  };
  r.done();
  return record;
}

interface PendingCommit {
  readonly published: StagedCommit;
  readonly newState: ClientState;
  readonly consumed: Uint8Array[];
}

function senderOf(message: MLSMessage): MlsSender | undefined {
  if (message.wireformat !== 'mls_public_message') return undefined;
  const s = message.publicMessage.content.sender;
  switch (s.senderType) {
    case 'member':
      return { type: 'member', leafIndex: s.leafIndex };
    case 'external':
      return { type: 'external', senderIndex: s.senderIndex };
    case 'new_member_commit':
    case 'new_member_proposal':
      return { type: s.senderType };
  }
}

export class MemberClient {
  private readonly logger = new Logger(MemberClient.name);
  private readonly states = new Map<string, ClientState>();
  private readonly pending = new Map<string, PendingCommit>();
  private readonly locks = new Map<string, Promise<void>>();
  private readonly clientConfig: ClientConfig;
  private readonly credential: Credential;

  private constructor(
    private readonly identity: Identity,
    private readonly cs: CiphersuiteImpl,
    private readonly options: MemberClientOptions,
  ) {
    this.credential = userCredential(identity.user);
    this.clientConfig = {
      keyRetentionConfig: {
        ...defaultKeyRetentionConfig,
        retainKeysForEpochs: options.pastEpochs ?? DEFAULT_PAST_EPOCHS,
      },
      lifetimeConfig: defaultLifetimeConfig,
      keyPackageEqualityConfig: defaultKeyPackageEqualityConfig,
      paddingConfig: defaultPaddingConfig,
      authService: options.authService ?? mimiAuthenticationService,
    };
  }

  /**
   * Create a client for `user` with a fresh signature key pair and store its identity.
   * @throws ValidationError when `user` is not a MIMI user URI.
   * @throws GatewayError(Conflict) when `storage` already holds a client for `user` (use `open`).
   */
  static async create(user: UserUri, options: MemberClientOptions): Promise<MemberClient> {
    userCredential(user);
    const cs = options.cipherSuite ?? (await mlsCiphersuite());
    if ((await options.storage.get(mlsStorageKeys.client(user))) !== undefined) {
      throw new GatewayError(ErrorCode.Conflict, `an MLS client for ${user} already exists`);
    }
    const { publicKey, signKey } = await cs.signature.keygen();
    const identity: Identity = {
      user,
      cipherSuite: cs.name,
      signaturePublicKey: publicKey,
      signaturePrivateKey: signKey,
    };
    await options.storage.put(mlsStorageKeys.client(user), encodeIdentity(identity));
    return new MemberClient(identity, cs, options);
  }

  /**
   * Load the client for `user` from storage, or `undefined` if there is none. Group states load
   * lazily on first use.
   * @throws MlsGroupError(Storage) when the stored identity is unreadable or for another cipher suite.
   */
  static async open(user: UserUri, options: MemberClientOptions): Promise<MemberClient | undefined> {
    const cs = options.cipherSuite ?? (await mlsCiphersuite());
    const bytes = await options.storage.get(mlsStorageKeys.client(user));
    if (bytes === undefined) return undefined;
    let identity: Identity;
    try {
      identity = decodeIdentity(bytes);
    } catch (e) {
      throw new MlsGroupError(MlsErrorReason.Storage, `stored MLS identity of ${user} is unreadable`, { cause: e });
    }
    if (identity.user !== user || identity.cipherSuite !== cs.name) {
      throw new MlsGroupError(
        MlsErrorReason.Storage,
        `stored MLS identity under ${user} is for ${identity.user} / ${identity.cipherSuite}`,
      );
    }
    return new MemberClient(identity, cs, options);
  }

  /** `open`, or `create` when storage has no client for `user`. */
  static async openOrCreate(user: UserUri, options: MemberClientOptions): Promise<MemberClient> {
    return (await MemberClient.open(user, options)) ?? MemberClient.create(user, options);
  }

  /**
   * Write a snapshot made by `exportState` into `options.storage` (replacing what is stored for
   * that user) and open the client.
   * @throws CodecError on a malformed snapshot.
   */
  static async importState(snapshot: Uint8Array, options: MemberClientOptions): Promise<MemberClient> {
    const r = new TlsReader(snapshot, 'MemberClient snapshot');
    readVersion(r);
    const identityBytes = r.opaque();
    const groups = r.vector((item) => item.opaque());
    const keyPackages = r.vector((item) => ({ ref: item.opaque(), record: item.opaque() }));
    r.done();
    const identity = decodeIdentity(identityBytes);
    const { storage } = options;
    for (const key of [
      ...(await storage.list(mlsStorageKeys.groupPrefix(identity.user))),
      ...(await storage.list(mlsStorageKeys.keyPackagePrefix(identity.user))),
    ]) {
      await storage.delete(key);
    }
    for (const record of groups) {
      const state = decodeGroupRecord(record);
      await storage.put(mlsStorageKeys.group(identity.user, state.groupContext.groupId), record);
    }
    for (const kp of keyPackages) {
      decodeKeyPackageRecord(kp.record);
      await storage.put(mlsStorageKeys.keyPackage(identity.user, kp.ref), kp.record);
    }
    await storage.put(mlsStorageKeys.client(identity.user), identityBytes);
    const client = await MemberClient.open(identity.user, options);
    if (client === undefined) throw new MlsGroupError(MlsErrorReason.Storage, 'imported identity vanished');
    return client;
  }

  /** The user this client belongs to; its credential carries this URI. */
  get user(): UserUri {
    return this.identity.user;
  }

  get signaturePublicKey(): Uint8Array {
    return this.identity.signaturePublicKey;
  }

  /**
   * RFC 9420 §5.1.2 SignWithLabel with this client's signature key, for MIMI requests a client
   * signs outside the group (protocol-06 §5.6 GroupInfoRequestTBS).
   */
  async signWithLabel(label: string, content: Uint8Array): Promise<Uint8Array> {
    return this.cs.signature.sign(this.identity.signaturePrivateKey, signContent(label, content));
  }

  /**
   * The identity record (user URI + signature key pair, private key included), as stored under
   * `mls/client/<user>`.
   */
  exportIdentity(): Uint8Array {
    return encodeIdentity(this.identity);
  }

  /**
   * Everything this client has stored (identity, every group state, unused KeyPackage keys) as one
   * blob for `importState`. Staged commits are not included. Holds secrets.
   */
  async exportState(): Promise<Uint8Array> {
    const { storage } = this.options;
    const groups: Uint8Array[] = [];
    for (const key of await storage.list(mlsStorageKeys.groupPrefix(this.user))) {
      const v = await storage.get(key);
      if (v !== undefined) groups.push(v);
    }
    const keyPackages: { ref: Uint8Array; record: Uint8Array }[] = [];
    const kpPrefix = mlsStorageKeys.keyPackagePrefix(this.user);
    for (const key of await storage.list(kpPrefix)) {
      const v = await storage.get(key);
      if (v !== undefined) keyPackages.push({ ref: Buffer.from(key.slice(kpPrefix.length), 'base64url'), record: v });
    }
    const identity = this.exportIdentity();
    return writeTls((w) => {
      w.uint8(RECORD_VERSION);
      w.opaque(identity);
      w.vector(groups, (v, g) => v.opaque(g));
      w.vector(keyPackages, (v, kp) => {
        v.opaque(kp.ref);
        v.opaque(kp.record);
      });
    });
  }

  /** Group IDs of every group this client has state for (active or removed). */
  async groupIds(): Promise<Uint8Array[]> {
    const prefix = mlsStorageKeys.groupPrefix(this.user);
    return (await this.options.storage.list(prefix)).map(
      (k) => new Uint8Array(Buffer.from(k.slice(prefix.length), 'base64url')),
    );
  }

  /**
   * Capabilities advertised in our leaves: ts-mls's defaults (with GREASE, RFC 9420 §13.5) plus the
   * app_data_dictionary extension the MIMI GroupContext carries.
   */
  private capabilities(): ReturnType<typeof defaultCapabilities> {
    const caps = defaultCapabilities();
    return { ...caps, extensions: [APP_DATA_DICTIONARY_EXTENSION_TYPE, ...caps.extensions] };
  }

  private async newKeyPackage(): Promise<{ publicPackage: KeyPackage; privatePackage: PrivateKeyPackage }> {
    const nowSeconds = Math.floor((this.options.now ?? Date.now)() / 1000);
    const lifetime = {
      notBefore: BigInt(nowSeconds - KEY_PACKAGE_CLOCK_SKEW_SECONDS),
      notAfter: BigInt(nowSeconds + (this.options.keyPackageLifetimeSeconds ?? DEFAULT_KEY_PACKAGE_LIFETIME_SECONDS)),
    };
    return generateKeyPackageWithKey(
      this.credential,
      this.capabilities(),
      lifetime,
      [],
      { signKey: this.identity.signaturePrivateKey, publicKey: this.identity.signaturePublicKey },
      this.cs,
    );
  }

  /**
   * Make a KeyPackage to publish (protocol-06 §5.2). Its private keys are stored until a Welcome
   * consumes them; each KeyPackage is used at most once.
   */
  async createKeyPackage(): Promise<PublishedKeyPackage> {
    const { publicPackage, privatePackage } = await this.newKeyPackage();
    const ref = await makeKeyPackageRef(publicPackage, this.cs.hash);
    await this.options.storage.put(
      mlsStorageKeys.keyPackage(this.user, ref),
      encodeKeyPackageRecord({
        publicPackage,
        initPrivateKey: privatePackage.initPrivateKey,
        hpkePrivateKey: privatePackage.hpkePrivateKey,
      }),
    );
    return { keyPackage: keyPackageToBytes(publicPackage), ref };
  }

  /**
   * Create a group with this client as its only member. `extensions` become the GroupContext
   * extensions (RoomGroup.create builds the MIMI set).
   * @throws GatewayError(Conflict) when this client already has state for `groupId`.
   */
  async createGroup(groupId: Uint8Array, extensions: readonly Extension[]): Promise<GroupSummary> {
    return this.withLock(groupId, async () => {
      if ((await this.loadState(groupId)) !== undefined) {
        throw new GatewayError(ErrorCode.Conflict, `${this.user} already has MLS group ${hex(groupId)}`);
      }
      const { publicPackage, privatePackage } = await this.newKeyPackage();
      let state: ClientState;
      try {
        state = await createGroup(groupId, publicPackage, privatePackage, [...extensions], this.cs, this.clientConfig);
      } catch (e) {
        throw toMlsGroupError(e, 'create group', MlsErrorReason.Invalid);
      }
      await this.saveState(state);
      this.logger.debug(`${this.user} created group ${hex(groupId)}`);
      return this.summarise(state);
    });
  }

  /**
   * Join a group from a Welcome (bare `Welcome` struct) and, since MIMI Welcomes omit it, the
   * group's ratchet tree (protocol-06 §5.3 HandshakeBundle, §5.5 `RatchetTreeOption.full`).
   * @throws MlsGroupError(NoMatchingKeyPackage) when none of our stored KeyPackages is addressed.
   * @throws GatewayError(Conflict) when this client is already an active member of the group.
   */
  async joinFromWelcome(welcome: Uint8Array, ratchetTree?: Uint8Array): Promise<GroupSummary> {
    const decoded = welcomeFromBytes(welcome);
    const tree = ratchetTree === undefined ? undefined : ratchetTreeFromBytes(ratchetTree);
    let match: { key: string; kp: StoredKeyPackage } | undefined;
    for (const secret of decoded.secrets) {
      const key = mlsStorageKeys.keyPackage(this.user, secret.newMember);
      const bytes = await this.options.storage.get(key);
      if (bytes !== undefined) {
        match = { key, kp: decodeKeyPackageRecord(bytes) };
        break;
      }
    }
    if (match === undefined) {
      throw new MlsGroupError(MlsErrorReason.NoMatchingKeyPackage, `no KeyPackage of ${this.user} is in the Welcome`);
    }
    const { kp } = match;
    let state: ClientState;
    try {
      state = await joinGroup(
        decoded,
        kp.publicPackage,
        {
          initPrivateKey: kp.initPrivateKey,
          hpkePrivateKey: kp.hpkePrivateKey,
          signaturePrivateKey: this.identity.signaturePrivateKey,
        },
        emptyPskIndex,
        this.cs,
        tree,
        undefined,
        this.clientConfig,
      );
    } catch (e) {
      throw toMlsGroupError(e, 'join from Welcome', MlsErrorReason.Invalid);
    }
    const groupId = state.groupContext.groupId;
    return this.withLock(groupId, async () => {
      const existing = await this.loadState(groupId);
      if (existing !== undefined && existing.groupActiveState.kind === 'active') {
        throw new GatewayError(ErrorCode.Conflict, `${this.user} is already a member of ${hex(groupId)}`);
      }
      await this.saveState(state);
      // protocol-06 §5.2: KeyPackages are never reused.
      await this.options.storage.delete(match.key);
      this.logger.debug(`${this.user} joined group ${hex(groupId)} at epoch ${state.groupContext.epoch}`);
      return this.summarise(state);
    });
  }

  /**
   * Join by external commit (RFC 9420 §12.4.3.2; protocol-06 §3 "new device") from a GroupInfo
   * with `external_pub` and the ratchet tree (`groupInfo` from `GroupInfoBundle`). The returned
   * commit must go to the hub (`/update`); the local state is already in the new epoch.
   * @param resync replace an existing leaf of this client (rejoin after lost state).
   */
  async joinExternal(
    groupInfo: Uint8Array,
    ratchetTree?: Uint8Array,
    resync = false,
  ): Promise<{ commit: Uint8Array; group: GroupSummary }> {
    const gi = groupInfoFromBytes(groupInfo);
    const tree = ratchetTree === undefined ? undefined : ratchetTreeFromBytes(ratchetTree);
    const { publicPackage, privatePackage } = await this.newKeyPackage();
    const groupId = gi.groupContext.groupId;
    return this.withLock(groupId, async () => {
      const existing = await this.loadState(groupId);
      if (existing !== undefined && existing.groupActiveState.kind === 'active' && !resync) {
        throw new GatewayError(ErrorCode.Conflict, `${this.user} is already a member of ${hex(groupId)}`);
      }
      let joined: Awaited<ReturnType<typeof joinGroupExternal>>;
      try {
        joined = await joinGroupExternal(gi, publicPackage, privatePackage, resync, this.cs, tree, this.clientConfig);
      } catch (e) {
        throw toMlsGroupError(e, 'external join', MlsErrorReason.Invalid);
      }
      await this.saveState(joined.newState);
      const commit = encodeMlsMessage({
        version: 'mls10',
        wireformat: 'mls_public_message',
        publicMessage: joined.publicMessage,
      });
      return { commit, group: this.summarise(joined.newState) };
    });
  }

  /**
   * Encrypt application data (the MIMI content CBOR, opaque here) as an MLSMessage PrivateMessage
   * for the current epoch (protocol-06 §5.4 `SubmitMessageRequest.appMessage`).
   * @throws MlsGroupError(UnknownGroup | RemovedFromGroup | PendingProposals)
   */
  async encrypt(groupId: Uint8Array, plaintext: Uint8Array, authenticatedData?: Uint8Array): Promise<Uint8Array> {
    return this.withLock(groupId, async () => {
      const state = await this.requireState(groupId);
      this.requireActive(state);
      const pendingProposals = Object.keys(state.unappliedProposals).length;
      if (pendingProposals > 0) {
        // RFC 9420 §12.2 / ts-mls: no application data while proposals wait for a commit.
        throw new MlsGroupError(
          MlsErrorReason.PendingProposals,
          `${pendingProposals} proposal(s) in group ${hex(groupId)} must be committed before sending`,
        );
      }
      let result: Awaited<ReturnType<typeof createApplicationMessage>>;
      try {
        result = await createApplicationMessage(state, plaintext, this.cs, authenticatedData);
      } catch (e) {
        throw toMlsGroupError(e, 'encrypt');
      }
      await this.saveState(result.newState);
      this.zero(groupId, result.consumed);
      return encodeMlsMessage({
        version: 'mls10',
        wireformat: 'mls_private_message',
        privateMessage: result.privateMessage,
      });
    });
  }

  /**
   * Process an MLSMessage (PrivateMessage or PublicMessage) for one of this client's groups:
   * decrypt an application message, queue a proposal or apply a commit.
   * @throws MlsGroupError with reason UnknownGroup, FutureEpoch (a commit was missed), EpochTooOld
   *   (an application message older than the kept epochs), WrongEpoch (a handshake message for a
   *   past epoch), RemovedFromGroup, Malformed or Invalid.
   */
  async processMessage(bytes: Uint8Array): Promise<ProcessedMessage> {
    const message = decodeMlsMessageBytes(bytes);
    if (message.wireformat !== 'mls_private_message' && message.wireformat !== 'mls_public_message') {
      throw new MlsGroupError(
        MlsErrorReason.Malformed,
        `processMessage takes PrivateMessage/PublicMessage, got ${message.wireformat}`,
      );
    }
    const header =
      message.wireformat === 'mls_private_message'
        ? message.privateMessage
        : {
            groupId: message.publicMessage.content.groupId,
            epoch: message.publicMessage.content.epoch,
            contentType: message.publicMessage.content.contentType,
          };
    const { groupId, epoch, contentType } = header;
    return this.withLock(groupId, async (): Promise<ProcessedMessage> => {
      const state = await this.requireState(groupId);
      const current = state.groupContext.epoch;
      const ownLeaf = state.privatePath.leafIndex;
      const opts = { currentEpoch: current, messageEpoch: epoch };
      const removed = state.groupActiveState.kind === 'removedFromGroup';
      if (removed && (contentType !== 'application' || epoch > current)) {
        throw new MlsGroupError(
          MlsErrorReason.RemovedFromGroup,
          `${this.user} was removed from group ${hex(groupId)} in epoch ${current}; cannot process a ${contentType} of epoch ${epoch}`,
          opts,
        );
      }
      if (epoch > current) {
        throw new MlsGroupError(
          MlsErrorReason.FutureEpoch,
          `${contentType} is for epoch ${epoch} but ${this.user} is at epoch ${current} of ${hex(groupId)}: a commit is missing`,
          opts,
        );
      }

      // Who sent it: in the clear for a PublicMessage; for a PrivateMessage from its sender data,
      // decrypted with the sender_data_secret of the message's epoch (RFC 9420 §6.3.2).
      let sender = senderOf(message);
      if (message.wireformat === 'mls_private_message') {
        const secret =
          epoch === current
            ? state.keySchedule.senderDataSecret
            : state.historicalReceiverData.get(epoch)?.senderDataSecret;
        if (secret === undefined && contentType !== 'application') {
          throw new MlsGroupError(
            MlsErrorReason.WrongEpoch,
            `${contentType} for epoch ${epoch} but ${this.user} is at epoch ${current} of ${hex(groupId)}`,
            opts,
          );
        }
        if (secret === undefined) {
          throw new MlsGroupError(
            MlsErrorReason.EpochTooOld,
            `${contentType} from epoch ${epoch} is older than the epochs ${this.user} keeps keys for (current ${current}, ${this.clientConfig.keyRetentionConfig.retainKeysForEpochs} past)`,
            opts,
          );
        }
        let senderData: Awaited<ReturnType<typeof decryptSenderData>>;
        try {
          senderData = await decryptSenderData(message.privateMessage, secret, this.cs);
        } catch (e) {
          throw toMlsGroupError(e, 'decrypt sender data', MlsErrorReason.Invalid);
        }
        if (senderData === undefined) {
          throw new MlsGroupError(MlsErrorReason.Invalid, 'cannot decrypt sender data', opts);
        }
        sender = { type: 'member', leafIndex: senderData.leafIndex };
      }
      const fromSelf = sender?.type === 'member' && sender.leafIndex === ownLeaf;

      if (epoch < current && contentType !== 'application') {
        // A hub may echo our own merged commit back (protocol-06 §5.5); anything else is stale.
        if (fromSelf && contentType === 'commit' && epoch === current - 1n) return { kind: 'echo', groupId, epoch };
        throw new MlsGroupError(
          MlsErrorReason.WrongEpoch,
          `${contentType} for epoch ${epoch} but ${this.user} is at epoch ${current} of ${hex(groupId)}`,
          opts,
        );
      }
      if (fromSelf && contentType === 'application') {
        // Our own ratchet has moved past this generation; there is nothing to decrypt.
        return { kind: 'echo', groupId, epoch };
      }

      const key = b64url(groupId);
      const staged = this.pending.get(key);
      if (staged !== undefined && contentType === 'commit' && sameBytes(bytes, staged.published.commit)) {
        // Our staged commit came back from the hub: it was accepted, apply it.
        await this.mergePending(key, staged);
        return {
          kind: 'commit',
          groupId,
          epoch: staged.newState.groupContext.epoch,
          committer: { type: 'member', leafIndex: ownLeaf },
          accepted: true,
          removedSelf: false,
          ownCommit: true,
          discardedStagedCommit: false,
        };
      }
      if (fromSelf) return { kind: 'echo', groupId, epoch };

      let result: Awaited<ReturnType<typeof processTsMlsMessage>>;
      try {
        result = await processTsMlsMessage(
          message,
          state,
          makePskIndex(state, {}),
          this.options.onIncoming ?? acceptAll,
          this.cs,
        );
      } catch (e) {
        throw toMlsGroupError(e, `process ${contentType} of epoch ${epoch}`, MlsErrorReason.Invalid);
      }
      await this.saveState(result.newState);
      this.zero(groupId, result.consumed);

      if (result.kind === 'applicationMessage') {
        const tree =
          epoch === current ? state.ratchetTree : (state.historicalReceiverData.get(epoch)?.ratchetTree ?? []);
        const leafIndex = sender?.type === 'member' ? sender.leafIndex : -1;
        const member = membersOfRatchetTree(tree).find((m) => m.leafIndex === leafIndex);
        if (member === undefined) {
          throw new MlsGroupError(MlsErrorReason.Invalid, `application message from empty leaf ${leafIndex}`, opts);
        }
        const authenticatedData =
          message.wireformat === 'mls_private_message' ? message.privateMessage.authenticatedData : new Uint8Array();
        return { kind: 'application', groupId, epoch, sender: member, plaintext: result.message, authenticatedData };
      }
      const accepted = result.actionTaken === 'accept';
      const committer: MlsSender = sender ?? { type: 'new_member_commit' };
      if (contentType === 'proposal') {
        // The queued proposal is the one entry the new state has and the old one lacks.
        const added = Object.entries(result.newState.unappliedProposals).find(
          ([ref]) => !(ref in state.unappliedProposals),
        );
        return {
          kind: 'proposal',
          groupId,
          epoch,
          sender: committer,
          proposalType: added?.[1].proposal.proposalType,
          accepted,
        };
      }
      let discardedStagedCommit = false;
      if (accepted && staged !== undefined) {
        // Another member's commit won this epoch at the hub; ours will get wrongEpoch.
        this.pending.delete(key);
        discardedStagedCommit = true;
        this.logger.debug(`${this.user} dropped its staged commit for ${hex(groupId)}: epoch ${epoch} taken`);
      }
      const removedSelf = result.newState.groupActiveState.kind === 'removedFromGroup';
      if (removedSelf) this.logger.debug(`${this.user} was removed from group ${hex(groupId)}`);
      return {
        kind: 'commit',
        groupId,
        epoch: result.newState.groupContext.epoch,
        committer,
        accepted,
        removedSelf,
        ownCommit: false,
        discardedStagedCommit,
      };
    });
  }

  /**
   * Create a commit for `changes` (plus every queued proposal) WITHOUT applying it, for a hub that
   * may refuse it (`wrongEpoch`). Apply with `mergeStagedCommit`, drop with `discardStagedCommit`.
   * @throws MlsGroupError(CommitPending) when a staged commit exists already.
   */
  async stageCommit(groupId: Uint8Array, changes: GroupChanges = {}): Promise<StagedCommit> {
    return this.withLock(groupId, async () => {
      const key = b64url(groupId);
      if (this.pending.has(key)) {
        throw new MlsGroupError(MlsErrorReason.CommitPending, `a commit for ${hex(groupId)} is already staged`);
      }
      const state = await this.requireState(groupId);
      this.requireActive(state);
      const proposals: Proposal[] = [];
      for (const kp of changes.add ?? []) {
        proposals.push({ proposalType: 'add', add: { keyPackage: keyPackageFromBytes(kp) } });
      }
      for (const leafIndex of changes.remove ?? []) {
        proposals.push({ proposalType: 'remove', remove: { removed: leafIndex } });
      }
      if (changes.participants !== undefined) {
        proposals.push({
          proposalType: 'group_context_extensions',
          groupContextExtensions: {
            extensions: withParticipantList(state.groupContext.extensions, changes.participants),
          },
        });
      }
      const covered = [...proposals, ...Object.values(state.unappliedProposals).map((p) => p.proposal)];
      const changesExtensions = covered.some((p) => p.proposalType === 'group_context_extensions');
      const needsPath = covered.some((p) => p.proposalType === 'remove' || p.proposalType === 'update');
      if (changesExtensions && needsPath) {
        // ts-mls 1.6.4 encrypts the UpdatePath under the GroupContext with the OLD extensions while
        // receivers (correctly, RFC 9420 §12.4.2) use the new ones, so such a commit cannot be
        // processed. Callers commit the two kinds separately (README.md "Deviations").
        throw new MlsGroupError(
          MlsErrorReason.Invalid,
          'cannot commit a GroupContextExtensions change together with Remove/Update proposals (ts-mls 1.6.4); commit them separately',
        );
      }
      let result: Awaited<ReturnType<typeof createCommit>>;
      let groupInfo: Uint8Array;
      let joiners: Uint8Array[];
      try {
        result = await createCommit(
          { state, cipherSuite: this.cs, pskIndex: makePskIndex(state, {}) },
          { extraProposals: proposals, wireAsPublicMessage: true, ratchetTreeExtension: false },
        );
        groupInfo = groupInfoToBytes(await createGroupInfoWithExternalPub(result.newState, [], this.cs));
        joiners = await Promise.all(
          proposals.flatMap((p) =>
            p.proposalType === 'add' ? [makeKeyPackageRef(p.add.keyPackage, this.cs.hash)] : [],
          ),
        );
      } catch (e) {
        throw toMlsGroupError(e, 'create commit', MlsErrorReason.Invalid);
      }
      const published: StagedCommit = {
        groupId,
        epoch: result.newState.groupContext.epoch,
        commit: encodeMlsMessage(result.commit),
        welcome: result.welcome === undefined ? undefined : welcomeToBytes(result.welcome),
        joiners,
        groupInfo,
        ratchetTree: ratchetTreeToBytes(result.newState.ratchetTree),
      };
      this.pending.set(key, { published, newState: result.newState, consumed: result.consumed });
      return published;
    });
  }

  /**
   * Apply the staged commit (the hub accepted it).
   * @throws MlsGroupError(NoCommitPending)
   */
  async mergeStagedCommit(groupId: Uint8Array): Promise<GroupSummary> {
    return this.withLock(groupId, async () => {
      const key = b64url(groupId);
      const staged = this.pending.get(key);
      if (staged === undefined) {
        throw new MlsGroupError(MlsErrorReason.NoCommitPending, `no staged commit for ${hex(groupId)}`);
      }
      await this.mergePending(key, staged);
      return this.summarise(staged.newState);
    });
  }

  /** Drop the staged commit (the hub refused it); the group stays in its current epoch. */
  async discardStagedCommit(groupId: Uint8Array): Promise<void> {
    await this.withLock(groupId, async () => {
      this.pending.delete(b64url(groupId));
    });
  }

  /** `stageCommit` + `mergeStagedCommit`, for commits the local hub accepts at once. */
  async commit(groupId: Uint8Array, changes: GroupChanges = {}): Promise<StagedCommit> {
    const staged = await this.stageCommit(groupId, changes);
    await this.mergeStagedCommit(groupId);
    return staged;
  }

  /** A fresh GroupInfo (with `external_pub`) and the ratchet tree of the current epoch (protocol-06 §5.6). */
  async groupInfo(groupId: Uint8Array): Promise<GroupInfoBundle> {
    return this.withLock(groupId, async () => {
      const state = await this.requireState(groupId);
      this.requireActive(state);
      const gi = await createGroupInfoWithExternalPub(state, [], this.cs);
      return {
        groupId,
        epoch: state.groupContext.epoch,
        groupInfo: groupInfoToBytes(gi),
        ratchetTree: ratchetTreeToBytes(state.ratchetTree),
      };
    });
  }

  /** @throws MlsGroupError(UnknownGroup) */
  async group(groupId: Uint8Array): Promise<GroupSummary> {
    return this.withLock(groupId, async () => this.summarise(await this.requireState(groupId)));
  }

  /** Whether this client has state (active or removed) for `groupId`. */
  async hasGroup(groupId: Uint8Array): Promise<boolean> {
    return this.withLock(groupId, async () => (await this.loadState(groupId)) !== undefined);
  }

  /**
   * Whether this client is an active member of `groupId` (has state and was not removed). Cheap:
   * no walk of the tree or the participant list, unlike `group(groupId).active`.
   */
  async isActive(groupId: Uint8Array): Promise<boolean> {
    return this.withLock(groupId, async () => (await this.loadState(groupId))?.groupActiveState.kind === 'active');
  }

  /** The GroupContext extensions of the current epoch (external_senders, app_data_dictionary, ...). */
  async groupContextExtensions(groupId: Uint8Array): Promise<Extension[]> {
    return this.withLock(groupId, async () => [...(await this.requireState(groupId)).groupContext.extensions]);
  }

  /** The ts-mls ClientState of a group, encoded (secrets included); what storage holds for it. */
  async exportGroupState(groupId: Uint8Array): Promise<Uint8Array> {
    return this.withLock(groupId, async () => encodeGroupRecord(await this.requireState(groupId)));
  }

  /** Delete this client's state for a group (e.g. after it was removed). */
  async forgetGroup(groupId: Uint8Array): Promise<void> {
    await this.withLock(groupId, async () => {
      const key = b64url(groupId);
      this.states.delete(key);
      this.pending.delete(key);
      await this.options.storage.delete(mlsStorageKeys.group(this.user, groupId));
    });
  }

  private summarise(state: ClientState): GroupSummary {
    return {
      groupId: state.groupContext.groupId,
      epoch: state.groupContext.epoch,
      ownLeafIndex: state.privatePath.leafIndex,
      members: membersOfRatchetTree(state.ratchetTree),
      participants: participantListFromExtensions(state.groupContext.extensions) ?? [],
      active: state.groupActiveState.kind === 'active',
      pendingProposals: Object.keys(state.unappliedProposals).length,
      commitStaged: this.pending.has(b64url(state.groupContext.groupId)),
    };
  }

  private requireActive(state: ClientState): void {
    if (state.groupActiveState.kind !== 'active') {
      throw new MlsGroupError(
        MlsErrorReason.RemovedFromGroup,
        `${this.user} is no longer a member of ${hex(state.groupContext.groupId)} (${state.groupActiveState.kind})`,
        { currentEpoch: state.groupContext.epoch },
      );
    }
  }

  private async mergePending(key: string, staged: PendingCommit): Promise<void> {
    await this.saveState(staged.newState);
    this.pending.delete(key);
    staged.consumed.forEach(zeroOutUint8Array);
    this.logger.debug(`${this.user} merged its commit: ${key} is at epoch ${staged.newState.groupContext.epoch}`);
  }

  /**
   * Wipe key material ts-mls reports as used up. Not while a commit is staged: the staged state
   * was derived from the current one and may still share those arrays.
   */
  private zero(groupId: Uint8Array, consumed: Uint8Array[]): void {
    if (!this.pending.has(b64url(groupId))) consumed.forEach(zeroOutUint8Array);
  }

  private async loadState(groupId: Uint8Array): Promise<ClientState | undefined> {
    const key = b64url(groupId);
    const cached = this.states.get(key);
    if (cached !== undefined) return cached;
    const bytes = await this.options.storage.get(mlsStorageKeys.group(this.user, groupId));
    if (bytes === undefined) return undefined;
    let state: GroupState;
    try {
      state = decodeGroupRecord(bytes);
    } catch (e) {
      throw new MlsGroupError(MlsErrorReason.Storage, `stored state of ${hex(groupId)} is unreadable`, { cause: e });
    }
    const clientState: ClientState = { ...state, clientConfig: this.clientConfig };
    this.states.set(key, clientState);
    return clientState;
  }

  private async requireState(groupId: Uint8Array): Promise<ClientState> {
    const state = await this.loadState(groupId);
    if (state === undefined) {
      throw new MlsGroupError(MlsErrorReason.UnknownGroup, `${this.user} has no state for MLS group ${hex(groupId)}`);
    }
    return state;
  }

  /** Durable first, then visible: a failed write leaves the previous state in place. */
  private async saveState(state: ClientState): Promise<void> {
    const groupId = state.groupContext.groupId;
    await this.options.storage.put(mlsStorageKeys.group(this.user, groupId), encodeGroupRecord(state));
    this.states.set(b64url(groupId), state);
  }

  /** Serialise operations per group: ts-mls states are values, two concurrent updates would fork. */
  private async withLock<T>(groupId: Uint8Array, fn: () => Promise<T>): Promise<T> {
    const key = b64url(groupId);
    const previous = this.locks.get(key) ?? Promise.resolve();
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    const mine = previous.then(() => done);
    this.locks.set(key, mine);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.locks.get(key) === mine) this.locks.delete(key);
    }
  }
}
