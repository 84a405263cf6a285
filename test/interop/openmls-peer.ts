/**
 * Driver for the openmls interop peer (test/interop/openmls-peer, a Rust program on openmls
 * 0.9.2): spawns the binary that test/interop/build.sh builds, sends it one JSON command per line
 * and awaits the replies in order. Byte values on the wire are hex strings; the typed helpers
 * below take and return Uint8Array. The peer's protocol is described in test/interop/README.md.
 *
 *   const peer = await OpenMlsPeer.start();
 *   await peer.newClient('alice', 'mimi://a.example/u/alice');
 *   ...
 *   await peer.close();
 */
import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export type PeerVariant = 'plain' | 'extensions';

/** Where build.sh puts the binaries (OPENMLS_PEER_BIN / OPENMLS_PEER_EXT_BIN override). */
function openMlsPeerPath(variant: PeerVariant = 'plain'): string {
  const env = variant === 'plain' ? process.env.OPENMLS_PEER_BIN : process.env.OPENMLS_PEER_EXT_BIN;
  if (env) return env;
  const name = variant === 'plain' ? 'openmls-peer' : 'openmls-peer-ext';
  return join(__dirname, 'openmls-peer', 'target', 'bin', name);
}

const OPENMLS_PEER_BUILD_HINT = 'build it with: bash test/interop/build.sh (needs cargo; about 4 minutes)';

/** A raw reply: `ok: true` plus command-specific fields, or `error`. */
export type PeerReply = Record<string, unknown> & { ok?: boolean; error?: string };

export interface PeerExtension {
  type: number;
  data: Uint8Array;
}

export interface PeerExternalSender {
  signatureKey: Uint8Array;
  identity: string;
}

export interface PeerCapabilities {
  extensions?: number[];
  proposals?: number[];
  credentials?: number[];
  ciphersuites?: number[];
}

type PeerWireFormat = 'plaintext' | 'ciphertext' | 'mixed_plaintext' | 'mixed_ciphertext';

/** Group settings accepted by createGroup / joinWelcome / joinExternal. */
export interface PeerGroupOptions {
  /** Outgoing/incoming handshake wire format. The peer's default is 'mixed_plaintext'. */
  wireFormat?: PeerWireFormat;
  padding?: number;
  ratchetTreeExtension?: boolean;
  maxPastEpochs?: number;
}

export interface PeerCommitResult {
  commit: Uint8Array;
  welcome?: Uint8Array;
  groupInfo?: Uint8Array;
  ratchetTree: Uint8Array;
  epoch: number;
  merged: boolean;
}

interface PeerMember {
  leafIndex: number;
  identity: string;
  signatureKey: Uint8Array;
  encryptionKey: Uint8Array;
}

export interface PeerGroupState {
  epoch: number;
  ownLeaf: number;
  members: PeerMember[];
  extensions: PeerExtension[];
  groupContext: Uint8Array;
  treeHash: Uint8Array;
  confirmedTranscriptHash: Uint8Array;
  epochAuthenticator: Uint8Array;
  ratchetTree: Uint8Array;
  hasPendingCommit: boolean;
  pendingProposals: Record<string, unknown>[];
  raw: PeerReply;
}

export type PeerProcessed =
  | { kind: 'application'; plaintext: Uint8Array; senderLeaf: number | null; epoch: number; raw: PeerReply }
  | { kind: 'commit' | 'own_commit'; newEpoch: number; selfRemoved: boolean; raw: PeerReply }
  | { kind: 'proposal' | 'external_join_proposal'; proposalRef: Uint8Array; raw: PeerReply }
  | { kind: 'own_private_message' | 'other'; raw: PeerReply };

class OpenMlsPeerError extends Error {
  constructor(
    message: string,
    /** The peer's error string (openmls error Debug output), when the peer answered with one. */
    readonly peerError?: string,
  ) {
    super(message);
    this.name = 'OpenMlsPeerError';
  }
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (h: unknown): Uint8Array => {
  if (typeof h !== 'string') throw new OpenMlsPeerError(`expected a hex string, got ${JSON.stringify(h)}`);
  return new Uint8Array(Buffer.from(h, 'hex'));
};
const optBytes = (h: unknown): Uint8Array | undefined => (typeof h === 'string' ? bytes(h) : undefined);

const STDERR_TAIL_BYTES = 4000;

interface Pending {
  cmd: string;
  resolve: (r: PeerReply) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class OpenMlsPeer {
  private readonly pending: Pending[] = [];
  private stderrTail = '';
  private exited?: string;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    readonly binary: string,
    private readonly timeoutMs: number,
  ) {
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_TAIL_BYTES);
    });
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => this.onLine(line));
    child.on('error', (e) => this.failAll(`openmls-peer could not run: ${e.message}`));
    child.on('exit', (code, signal) => {
      this.exited = `exited (code ${code}, signal ${signal})`;
      this.failAll(`openmls-peer ${this.exited}`);
    });
  }

  /** Whether the binary of `variant` has been built. */
  static available(variant: PeerVariant = 'plain'): boolean {
    return existsSync(openMlsPeerPath(variant));
  }

  /** Spawn the peer. `timeoutMs` bounds each command. */
  static async start(opts: { variant?: PeerVariant; timeoutMs?: number } = {}): Promise<OpenMlsPeer> {
    const binary = openMlsPeerPath(opts.variant ?? 'plain');
    if (!existsSync(binary)) {
      throw new OpenMlsPeerError(`openmls-peer binary missing at ${binary}; ${OPENMLS_PEER_BUILD_HINT}`);
    }
    const child = spawn(binary, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    const peer = new OpenMlsPeer(child, binary, opts.timeoutMs ?? 20_000);
    await peer.send('hello');
    return peer;
  }

  /**
   * Send one command and await its reply. Rejects with the peer's error (and its stderr tail) when
   * the reply is `{error}`, when the peer exits, or after the timeout.
   */
  async send(cmd: string, args: Record<string, unknown> = {}): Promise<PeerReply> {
    const reply = await this.sendRaw(cmd, args);
    if (typeof reply.error === 'string') {
      throw new OpenMlsPeerError(`openmls-peer ${cmd} failed: ${reply.error}${this.stderrSection()}`, reply.error);
    }
    return reply;
  }

  /** Like send, but an `{error}` reply resolves instead of throwing (for negative tests). */
  sendRaw(cmd: string, args: Record<string, unknown> = {}): Promise<PeerReply> {
    if (this.exited) {
      return Promise.reject(new OpenMlsPeerError(`openmls-peer ${this.exited}${this.stderrSection()}`));
    }
    return new Promise<PeerReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.pending.findIndex((p) => p.timer === timer);
        // Replies come in order: once one is overdue the stream cannot be trusted; kill the peer.
        if (i >= 0) this.pending.splice(i, 1);
        reject(
          new OpenMlsPeerError(`openmls-peer ${cmd}: no reply within ${this.timeoutMs} ms${this.stderrSection()}`),
        );
        this.child.kill('SIGKILL');
      }, this.timeoutMs);
      this.pending.push({ cmd, resolve, reject, timer });
      this.child.stdin.write(JSON.stringify({ cmd, ...args }) + '\n');
    });
  }

  /** Close stdin and wait for the peer to exit (SIGKILL after 5 s). */
  async close(): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin.end();
    const kill = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await done;
    clearTimeout(kill);
  }

  /** Last lines the peer wrote to stderr. */
  get stderr(): string {
    return this.stderrTail;
  }

  private stderrSection(): string {
    const tail = this.stderrTail.trim();
    return tail ? `\n--- openmls-peer stderr (tail) ---\n${tail}` : '';
  }

  private onLine(line: string): void {
    const p = this.pending.shift();
    if (!p) {
      this.stderrTail += `\n[unexpected stdout line] ${line}`;
      return;
    }
    clearTimeout(p.timer);
    try {
      p.resolve(JSON.parse(line) as PeerReply);
    } catch {
      p.reject(new OpenMlsPeerError(`openmls-peer ${p.cmd}: reply is not JSON: ${line}${this.stderrSection()}`));
    }
  }

  private failAll(why: string): void {
    for (const p of this.pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(new OpenMlsPeerError(`${why} while waiting for ${p.cmd}${this.stderrSection()}`));
    }
  }

  // --- typed helpers ------------------------------------------------------------------------

  async features(): Promise<{ openmls: string; extensionsDraft: boolean }> {
    const r = await this.send('features');
    return { openmls: String(r.openmls), extensionsDraft: r.extensions_draft === true };
  }

  /** A client with a basic credential; the signature key pair matches the suite (Ed25519 for 1). */
  async newClient(
    name: string,
    identity: string,
    opts: { suite?: number; capabilities?: PeerCapabilities } = {},
  ): Promise<{ signatureKey: Uint8Array }> {
    const r = await this.send('new_client', { name, identity, suite: opts.suite, capabilities: opts.capabilities });
    return { signatureKey: bytes(r.signature_key) };
  }

  /** A fresh KeyPackage: `keyPackage` is the bare TLS KeyPackage, `mlsMessage` its MLSMessage form. */
  async keyPackage(
    name: string,
    opts: { lastResort?: boolean; extensions?: PeerExtension[]; leafExtensions?: PeerExtension[] } = {},
  ): Promise<{ keyPackage: Uint8Array; mlsMessage: Uint8Array; ref: Uint8Array }> {
    const r = await this.send('key_package', {
      name,
      last_resort: opts.lastResort,
      extensions: opts.extensions?.map(extJson),
      leaf_extensions: opts.leafExtensions?.map(extJson),
    });
    return { keyPackage: bytes(r.key_package), mlsMessage: bytes(r.mls_message), ref: bytes(r.key_package_ref) };
  }

  async createGroup(
    name: string,
    groupId: Uint8Array,
    opts: PeerGroupOptions & {
      extensions?: PeerExtension[];
      externalSenders?: PeerExternalSender[];
      requiredCapabilities?: PeerCapabilities;
    } = {},
  ): Promise<void> {
    await this.send('create_group', {
      name,
      group_id: hex(groupId),
      ...groupOptions(opts),
      extensions: opts.extensions?.map(extJson),
      external_senders: opts.externalSenders?.map((s) => ({
        signature_key: hex(s.signatureKey),
        credential_identity: s.identity,
      })),
      required_capabilities: opts.requiredCapabilities,
    });
  }

  async add(name: string, groupId: Uint8Array, keyPackages: Uint8Array[]): Promise<PeerCommitResult> {
    return commitResult(await this.send('add', { name, group_id: hex(groupId), key_packages: keyPackages.map(hex) }));
  }

  async remove(name: string, groupId: Uint8Array, leafIndices: number[]): Promise<PeerCommitResult> {
    return commitResult(await this.send('remove', { name, group_id: hex(groupId), leaf_indices: leafIndices }));
  }

  async selfUpdate(name: string, groupId: Uint8Array): Promise<PeerCommitResult> {
    return commitResult(await this.send('self_update', { name, group_id: hex(groupId) }));
  }

  /** Commit the pending proposals (plus any `extra` fields of the generic `commit` command). */
  async commitPending(
    name: string,
    groupId: Uint8Array,
    extra: Record<string, unknown> = {},
  ): Promise<PeerCommitResult> {
    return commitResult(await this.send('commit', { name, group_id: hex(groupId), ...extra }));
  }

  async encrypt(name: string, groupId: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Promise<Uint8Array> {
    const r = await this.send('encrypt', {
      name,
      group_id: hex(groupId),
      plaintext: hex(plaintext),
      aad: aad ? hex(aad) : undefined,
    });
    return bytes(r.message);
  }

  /** Process an MLSMessage (PublicMessage or PrivateMessage); commits are merged, proposals stored. */
  async process(name: string, message: Uint8Array): Promise<PeerProcessed> {
    const r = await this.send('process', { name, message: hex(message) });
    const kind = r.kind as PeerProcessed['kind'];
    switch (kind) {
      case 'application':
        return {
          kind,
          plaintext: bytes(r.plaintext),
          senderLeaf: typeof r.sender_leaf === 'number' ? r.sender_leaf : null,
          epoch: Number(r.epoch),
          raw: r,
        };
      case 'commit':
      case 'own_commit':
        return { kind, newEpoch: Number(r.new_epoch), selfRemoved: r.self_removed === true, raw: r };
      case 'proposal':
      case 'external_join_proposal':
        return { kind, proposalRef: bytes(r.proposal_ref), raw: r };
      case 'own_private_message':
      case 'other':
        return { kind, raw: r };
      default:
        throw new OpenMlsPeerError(`openmls-peer process: unknown kind ${String(r.kind)}`);
    }
  }

  /** Join from a Welcome (MLSMessage or bare); `ratchetTree` unless the Welcome carries the extension. */
  async joinWelcome(
    name: string,
    welcome: Uint8Array,
    ratchetTree?: Uint8Array,
    opts: PeerGroupOptions = {},
  ): Promise<{ groupId: Uint8Array; epoch: number; ownLeaf: number }> {
    const r = await this.send('join_welcome', {
      name,
      welcome: hex(welcome),
      ratchet_tree: ratchetTree ? hex(ratchetTree) : undefined,
      ...groupOptions(opts),
    });
    return { groupId: bytes(r.group_id), epoch: Number(r.epoch), ownLeaf: Number(r.own_leaf) };
  }

  /** External commit from a GroupInfo (MLSMessage or bare); the new group state is merged. */
  async joinExternal(
    name: string,
    groupInfo: Uint8Array,
    ratchetTree?: Uint8Array,
    opts: PeerGroupOptions = {},
  ): Promise<{ groupId: Uint8Array; commit: Uint8Array; epoch: number; ownLeaf: number }> {
    const r = await this.send('join_external', {
      name,
      group_info: hex(groupInfo),
      ratchet_tree: ratchetTree ? hex(ratchetTree) : undefined,
      ...groupOptions(opts),
    });
    return { groupId: bytes(r.group_id), commit: bytes(r.commit), epoch: Number(r.epoch), ownLeaf: Number(r.own_leaf) };
  }

  /** A signed GroupInfo (MLSMessage) with external_pub, and the ratchet tree to go with it. */
  async groupInfo(
    name: string,
    groupId: Uint8Array,
    ratchetTreeExtension = false,
  ): Promise<{ groupInfo: Uint8Array; ratchetTree: Uint8Array }> {
    const r = await this.send('group_info', {
      name,
      group_id: hex(groupId),
      ratchet_tree_extension: ratchetTreeExtension,
    });
    return { groupInfo: bytes(r.group_info), ratchetTree: bytes(r.ratchet_tree) };
  }

  async exportSecret(
    name: string,
    groupId: Uint8Array,
    label: string,
    context: Uint8Array,
    length: number,
  ): Promise<Uint8Array> {
    const r = await this.send('export_secret', { name, group_id: hex(groupId), label, context: hex(context), length });
    return bytes(r.secret);
  }

  async state(name: string, groupId: Uint8Array): Promise<PeerGroupState> {
    const r = await this.send('state', { name, group_id: hex(groupId) });
    const members = (r.members as Record<string, unknown>[]).map((m) => ({
      leafIndex: Number(m.leaf_index),
      identity: String(m.identity),
      signatureKey: bytes(m.signature_key),
      encryptionKey: bytes(m.encryption_key),
    }));
    const extensions = (r.extensions as Record<string, unknown>[]).map((e) => ({
      type: Number(e.type),
      data: bytes(e.data),
    }));
    return {
      epoch: Number(r.epoch),
      ownLeaf: Number(r.own_leaf),
      members,
      extensions,
      groupContext: bytes(r.group_context),
      treeHash: bytes(r.tree_hash),
      confirmedTranscriptHash: bytes(r.confirmed_transcript_hash),
      epochAuthenticator: bytes(r.epoch_authenticator),
      ratchetTree: bytes(r.ratchet_tree),
      hasPendingCommit: r.has_pending_commit === true,
      pendingProposals: r.pending_proposals as Record<string, unknown>[],
      raw: r,
    };
  }
}

function extJson(e: PeerExtension): { type: number; data: string } {
  return { type: e.type, data: hex(e.data) };
}

function groupOptions(o: PeerGroupOptions): Record<string, unknown> {
  return {
    wire_format: o.wireFormat,
    padding: o.padding,
    ratchet_tree_extension: o.ratchetTreeExtension,
    max_past_epochs: o.maxPastEpochs,
  };
}

function commitResult(r: PeerReply): PeerCommitResult {
  return {
    commit: bytes(r.commit),
    welcome: optBytes(r.welcome),
    groupInfo: optBytes(r.group_info),
    ratchetTree: bytes(r.ratchet_tree),
    epoch: Number(r.epoch),
    merged: r.merged === true,
  };
}

const inCi = !!process.env.CI && process.env.CI !== 'false';
export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
export const text = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Registers `body` when the peer variant is built; otherwise fails (CI) or skips loudly. */
export function describePeer(title: string, variant: PeerVariant, body: () => void): void {
  if (OpenMlsPeer.available(variant)) {
    describe(title, body);
    return;
  }
  const why = `openmls-peer (${variant}) is not built: ${openMlsPeerPath(variant)} is missing; ${OPENMLS_PEER_BUILD_HINT}`;
  if (inCi) {
    describe(title, () => {
      it('has its openmls-peer binary', () => {
        throw new Error(why);
      });
    });
  } else {
    console.warn(`\n*** SKIPPING "${title}": ${why} ***\n`);
    describe.skip(title, body);
  }
}
