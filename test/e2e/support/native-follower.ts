/**
 * A small MIMI provider that is NOT a mimi-gateway (issue 10 "Proof"): its users' MLS clients
 * run on openmls (the openmls interop peer, test/interop/openmls-peer, extensions build), and it
 * serves its own mutual-TLS endpoints (`/keyMaterial`, `/notify`, the directory) from a plain
 * Node https server. It talks to a hub over mutual TLS with a certificate of its own domain.
 *
 * Only the framing of the protocol-06 bodies (src/mimi/wire) and of the MIMI content
 * (src/mimi/content) and the HPKE/signature helpers for `/groupInfo` (src/mls/hub-sender) come
 * from this repository; every MLS operation (KeyPackages, Welcome, commits, proposals,
 * encryption, decryption, the group state it reads) is openmls's.
 *
 *   const f = await NativeFollower.start({ peer, identity, caPem, port, hubDomain, hubUrl });
 *   await f.addUser('nate');
 *   ...
 *   await f.close();
 */
import { once } from 'node:events';
import { type IncomingMessage, type ServerResponse } from 'node:http';
import { type Server, createServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { RoomUri, UserUri } from '../../../src/common/ids';
import { decodeMimiContent } from '../../../src/mimi/content';
import { encodeMimiContent } from '../../../src/mimi/content/mimi-content';
import { buildTextMessage } from '../../../src/mimi/content/content-builders';
import {
  type RoomMetadata,
  type Role,
  RoomStateComponentId,
  decodeRoomMetadata,
  decodeRolesList,
  plainDescription,
} from '../../../src/mimi/room-state';
import {
  type FanoutMessage,
  type UpdateRoomResponse,
  asCredential,
  asGroupInfo,
  asKeyPackage,
  asMlsMessage,
  decodeAll,
  decodeFanoutBody,
  encodeValue,
  groupInfoRatchetTreeTbeCodec,
  groupInfoRequestCodec,
  groupInfoRequestTbsCodec,
  groupInfoResponseCodec,
  keyMaterialRequestCodec,
  keyMaterialResponseCodec,
  submitMessageRequestCodec,
  submitMessageResponseCodec,
  updateRequestCodec,
  updateRoomResponseCodec,
  type SubmitMessageResponse,
} from '../../../src/mimi/wire';
import {
  APP_DATA_DICTIONARY_EXTENSION_TYPE,
  MimiComponentId,
  type Participant,
  decodeAppDataDictionary,
  decodeParticipantList,
  decryptWithLabel,
  groupIdForRoom,
  groupInfoFromBytes,
  participantListFromExtensions,
  unframeMlsMessage,
  hpkeKeyPair,
  mimiSuite,
  signWithLabel,
} from '../../../src/mls';
import { encodeParticipantList } from '../../../src/mls/app-data';
import { GROUP_INFO_LABEL, basicCredentialBytes } from '../../../src/rooms/wire-support';
import { PEER_CAPS } from '../../interop/core-openmls-harness';
import { type OpenMlsPeer, type PeerProcessed, hex } from '../../interop/openmls-peer';
import { type ProviderIdentity, RawMimiClient } from '../../support/e2e-clients';
import { waitForValue } from '../../support/e2e-wait';

/** What the follower's `/notify` did with one FanoutMessage. */
export type Notified =
  | { readonly room: RoomUri; readonly kind: 'welcome'; readonly user: string; readonly epoch: number }
  | { readonly room: RoomUri; readonly kind: 'message'; readonly sender: string; readonly text: string }
  | { readonly room: RoomUri; readonly kind: 'own-message' }
  | {
      readonly room: RoomUri;
      readonly kind: 'commit';
      readonly epoch: number;
      readonly selfRemoved: boolean;
      /** The commit's authenticated_data as UTF-8 (the hub puts the unlink reason there). */
      readonly aad: string;
    }
  | { readonly room: RoomUri; readonly kind: 'proposal'; readonly proposalType: number }
  | { readonly room: RoomUri; readonly kind: 'error'; readonly error: string };

/** The room state as openmls holds it (the group's app_data_dictionary, decoded). */
export interface NativeRoomState {
  readonly epoch: number;
  readonly members: readonly string[];
  readonly participants: readonly Participant[];
  readonly metadata?: RoomMetadata;
  readonly topic?: string;
  readonly roles: readonly Role[];
  readonly componentIds: readonly number[];
}

export interface NativeFollowerOptions {
  readonly peer: OpenMlsPeer;
  /** Our provider's certificate and key (its domain is ours). */
  readonly identity: ProviderIdentity;
  readonly caPem: string;
  /** Where our MIMI endpoints listen (127.0.0.1). */
  readonly port: number;
  readonly hubDomain: string;
  /** https://127.0.0.1:<port> of the hub's MIMI listener. */
  readonly hubUrl: string;
}

const WAIT_MS = 60_000;

export class NativeFollower {
  /** Everything `/notify` brought, in order. */
  readonly notified: Notified[] = [];
  /** Requests our endpoints refused (wrong peer, unknown user), for the test to assert on. */
  readonly refused: string[] = [];
  private readonly users = new Set<string>();
  private readonly hub: RawMimiClient;
  private tail: Promise<unknown> = Promise.resolve();
  private keyPackages = 0;

  private constructor(
    private readonly opts: NativeFollowerOptions,
    private readonly server: Server,
  ) {
    this.hub = new RawMimiClient(opts.identity, opts.hubDomain, opts.hubUrl, opts.caPem);
  }

  get domain(): string {
    return this.opts.identity.domain;
  }

  private get peer(): OpenMlsPeer {
    return this.opts.peer;
  }

  static async start(opts: NativeFollowerOptions): Promise<NativeFollower> {
    const server = createServer({
      cert: opts.identity.certPem,
      key: opts.identity.keyPem,
      ca: opts.caPem,
      requestCert: true,
      rejectUnauthorized: true,
    });
    const follower = new NativeFollower(opts, server);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      void follower.serve(req, res);
    });
    server.listen(opts.port, '127.0.0.1');
    await once(server, 'listening');
    return follower;
  }

  /** One of our users, `mimi://<domain>/u/<name>`, with an openmls client named `<name>`. */
  async addUser(name: string): Promise<string> {
    const uri = this.userUri(name);
    await this.peer.newClient(name, uri, { capabilities: PEER_CAPS });
    this.users.add(name);
    return uri;
  }

  userUri(name: string): string {
    return `mimi://${this.domain}/u/${name}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
    await this.hub.close();
  }

  // ---- our endpoints ----------------------------------------------------------------------

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = new Uint8Array(Buffer.concat(chunks));
    const answer = (status: number, bytes?: Uint8Array | string, type = 'application/octet-stream'): void => {
      res.writeHead(status, { 'content-type': type });
      res.end(bytes === undefined ? undefined : Buffer.from(bytes));
    };
    const url = new URL(req.url ?? '/', 'https://x');
    if (req.method === 'GET' && url.pathname === '/.well-known/mimi-protocol-directory') {
      const base = `https://${this.domain}:${this.opts.port}`;
      return answer(
        200,
        JSON.stringify({ keyMaterial: `${base}/keyMaterial/{targetUser}`, notify: `${base}/notify/{roomId}` }),
        'application/json',
      );
    }
    // Mutual TLS: the client certificate (verified against the CA) must name the provider in From.
    const cert = (req.socket as TLSSocket).getPeerCertificate();
    const from = /^mimi@(.+)$/.exec(String(req.headers['from'] ?? ''))?.[1];
    const sans = String(cert?.subjectaltname ?? '');
    if (from === undefined || !sans.split(', ').includes(`DNS:${from}`)) {
      this.refused.push(`${req.url}: From ${String(req.headers['from'])} vs certificate ${sans}`);
      return answer(403, JSON.stringify({ errcode: 'MIMI_NOT_ALLOWED' }), 'application/json');
    }
    const [, endpoint, segment] = /^\/([A-Za-z]+)\/([^/]+)$/.exec(url.pathname) ?? [];
    const pathUri = segment === undefined ? undefined : decodeURIComponent(segment);
    try {
      if (req.method === 'POST' && endpoint === 'keyMaterial' && pathUri !== undefined) {
        return answer(200, await this.keyMaterial(pathUri, body));
      }
      if (req.method === 'POST' && endpoint === 'notify' && pathUri !== undefined) {
        if (from !== this.opts.hubDomain) {
          this.refused.push(`/notify from ${from}`);
          return answer(403, JSON.stringify({ errcode: 'MIMI_NOT_ALLOWED' }), 'application/json');
        }
        await this.serially(() => this.notify(pathUri as RoomUri, decodeFanoutBody(body)));
        return answer(201);
      }
      return answer(404, JSON.stringify({ errcode: 'MIMI_NOT_FOUND' }), 'application/json');
    } catch (e) {
      return answer(400, JSON.stringify({ errcode: 'MIMI_BAD_REQUEST', error: String(e) }), 'application/json');
    }
  }

  /** protocol-06 §5.2: one fresh openmls KeyPackage of the target user. */
  private async keyMaterial(target: string, body: Uint8Array): Promise<Uint8Array> {
    const request = decodeAll(body, keyMaterialRequestCodec);
    const name = [...this.users].find((n) => this.userUri(n) === target);
    if (name === undefined || request.targetUser !== target) {
      this.refused.push(`/keyMaterial for ${target}`);
      return encodeValue(
        { protocol: 'mls10', userStatus: 'userUnknown', userUri: target, clients: [] },
        keyMaterialResponseCodec,
      );
    }
    const kp = await this.peer.keyPackage(name);
    this.keyPackages += 1;
    return encodeValue(
      {
        protocol: 'mls10',
        userStatus: 'success',
        userUri: target,
        clients: [
          {
            clientStatus: 'success',
            clientUri: `mimi://${this.domain}/d/${name}-${this.keyPackages}`,
            keyPackage: asKeyPackage(kp.keyPackage),
          },
        ],
      },
      keyMaterialResponseCodec,
    );
  }

  /** protocol-06 §5.5: each FanoutMessage through openmls, in the hub's order. */
  private async notify(room: RoomUri, messages: FanoutMessage[]): Promise<void> {
    for (const m of messages) {
      try {
        this.notified.push(await this.apply(room, m));
      } catch (e) {
        this.notified.push({ room, kind: 'error', error: e instanceof Error ? e.message : String(e) });
      }
    }
  }

  private async apply(room: RoomUri, m: FanoutMessage): Promise<Notified> {
    const name = this.onlyUser();
    if (m.messageKind === 'welcome') {
      const tree = m.ratchetTreeOption.representation === 'full' ? m.ratchetTreeOption.ratchetTree : undefined;
      const joined = await this.peer.joinWelcome(name, m.message, tree, { maxPastEpochs: 2 });
      return { room, kind: 'welcome', user: this.userUri(name), epoch: joined.epoch };
    }
    const processed: PeerProcessed = await this.peer.process(name, m.message);
    switch (processed.kind) {
      case 'application': {
        const content = decodeMimiContent(processed.plaintext);
        const part = content.nestedPart;
        const text =
          'content' in part && part.content instanceof Uint8Array ? Buffer.from(part.content).toString() : '';
        return { room, kind: 'message', sender: String(processed.raw['sender_identity']), text };
      }
      case 'commit':
      case 'own_commit':
        return {
          room,
          kind: 'commit',
          epoch: processed.newEpoch,
          selfRemoved: processed.selfRemoved,
          aad: Buffer.from(String(processed.raw['aad'] ?? ''), 'hex').toString('utf8'),
        };
      case 'proposal':
      case 'external_join_proposal':
        return {
          room,
          kind: 'proposal',
          proposalType: Number((processed.raw['proposal'] as Record<string, unknown>)['proposal_type']),
        };
      case 'own_private_message':
        return { room, kind: 'own-message' };
      case 'other':
        return { room, kind: 'error', error: `unexpected ${JSON.stringify(processed.raw)}` };
    }
  }

  /** This follower has one user per test scenario; multi-user routing by KeyPackageRef is not needed here. */
  private onlyUser(): string {
    const [name, ...more] = [...this.users];
    if (name === undefined || more.length > 0) throw new Error('the native follower runs exactly one user');
    return name;
  }

  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Resolves with the first notification that matches, waiting up to a minute. */
  waitForNotified<T extends Notified>(what: string, pred: (n: Notified) => n is T): Promise<T>;
  waitForNotified(what: string, pred: (n: Notified) => boolean): Promise<Notified>;
  async waitForNotified(what: string, pred: (n: Notified) => boolean): Promise<Notified> {
    return waitForValue(
      () => Promise.resolve(this.notified.find(pred)),
      (n) => n !== undefined,
      { timeoutMs: WAIT_MS, what: `${what} (notified so far: ${JSON.stringify(this.notified)})` },
    ) as Promise<Notified>;
  }

  // ---- the group state, as openmls has it -------------------------------------------------

  async roomState(name: string, room: RoomUri): Promise<NativeRoomState> {
    const s = await this.peer.state(name, groupIdForRoom(room));
    const dict = s.extensions.find((e) => e.type === APP_DATA_DICTIONARY_EXTENSION_TYPE);
    const components = dict ? decodeAppDataDictionary(dict.data) : [];
    const of = (id: number): Uint8Array | undefined => components.find((c) => c.componentId === id)?.data;
    const list = of(MimiComponentId.ParticipantList);
    const meta = of(RoomStateComponentId.roomMetadata);
    const roles = of(RoomStateComponentId.rolesList);
    const metadata = meta ? decodeRoomMetadata(meta) : undefined;
    return {
      epoch: s.epoch,
      members: s.members.map((m) => m.identity),
      participants: list ? decodeParticipantList(list) : [],
      ...(metadata ? { metadata, topic: plainDescription(metadata) } : {}),
      roles: roles ? decodeRolesList(roles) : [],
      componentIds: components.map((c) => c.componentId),
    };
  }

  // ---- requests to the hub ----------------------------------------------------------------

  /** protocol-06 §5.4: a text message of `name`, encrypted by openmls. */
  async submitText(name: string, room: RoomUri, text: string): Promise<SubmitMessageResponse> {
    const content = encodeMimiContent(
      buildTextMessage({ senderUri: this.userUri(name), roomUri: room, text, contentType: 'text/plain;charset=utf-8' }),
    );
    const message = await this.peer.encrypt(name, groupIdForRoom(room), content);
    const res = await this.hub.post(
      'submitMessage',
      room,
      encodeValue(
        { protocol: 'mls10', appMessage: asMlsMessage(message), sendingUri: this.userUri(name) },
        submitMessageRequestCodec,
      ),
    );
    if (res.status < 200 || res.status >= 300) {
      throw new Error(`submitMessage: HTTP ${res.status} ${res.body.toString()}`);
    }
    return decodeAll(new Uint8Array(res.body), submitMessageResponseCodec);
  }

  /**
   * protocol-06 §5.3: a commit of `name` (not merged yet) carrying `fields` of the peer's generic
   * commit command. When the hub accepts it, it comes back by `/notify` and openmls merges it as
   * its own pending commit; when the hub refuses it, it is dropped.
   */
  async commit(name: string, room: RoomUri, fields: Record<string, unknown>): Promise<UpdateRoomResponse> {
    const gid = hex(groupIdForRoom(room));
    const r = await this.peer.send('commit', { name, group_id: gid, merge: false, ...fields });
    const response = await this.update(room, {
      proposalOrCommit: asMlsMessage(Buffer.from(String(r.commit), 'hex')),
      contentType: 'commit',
      groupInfoOption: { representation: 'full', groupInfo: asGroupInfo(unframe(String(r.group_info))) },
      ratchetTreeOption: { representation: 'full', ratchetTree: Buffer.from(String(r.ratchet_tree), 'hex') },
    });
    if (response.responseCode !== 'success') await this.peer.send('clear_pending', { name, group_id: gid });
    return response;
  }

  /** protocol-06 §5.3: a stand-alone SelfRemove proposal of `name` (openmls sends it as a PublicMessage). */
  async selfRemove(name: string, room: RoomUri): Promise<UpdateRoomResponse> {
    const r = await this.peer.send('propose_self_remove', { name, group_id: hex(groupIdForRoom(room)) });
    return this.update(room, {
      proposalOrCommit: asMlsMessage(Buffer.from(String(r.proposal), 'hex')),
      contentType: 'proposal',
      moreProposals: [],
    });
  }

  /**
   * A stand-alone proposal other than SelfRemove (`propose_<kind>` of the peer) sent on
   * `/update`; openmls's copy is dropped afterwards, whatever the hub answers.
   */
  async proposeAlone(name: string, room: RoomUri, kind: 'self_update' | 'remove'): Promise<UpdateRoomResponse> {
    const gid = hex(groupIdForRoom(room));
    const own = (await this.peer.state(name, groupIdForRoom(room))).ownLeaf;
    const r = await this.peer.send(`propose_${kind}`, { name, group_id: gid, leaf_index: own });
    try {
      return await this.update(room, {
        proposalOrCommit: asMlsMessage(Buffer.from(String(r.proposal), 'hex')),
        contentType: 'proposal',
        moreProposals: [],
      });
    } finally {
      await this.peer.send('clear_pending', { name, group_id: gid });
    }
  }

  async update(
    room: RoomUri,
    bundle: Parameters<typeof updateRequestCodec.encode>[1]['bundle'],
  ): Promise<UpdateRoomResponse> {
    const res = await this.hub.post('update', room, encodeValue({ bundle }, updateRequestCodec));
    if (res.status < 200 || res.status >= 300) throw new Error(`update: HTTP ${res.status} ${res.body.toString()}`);
    return decodeAll(new Uint8Array(res.body), updateRoomResponseCodec);
  }

  /**
   * protocol-06 §5.6 + §5.3: join an open room by external commit. The GroupInfoRequest is signed
   * with a request key of the user (not its MLS leaf key), the answer opened with a fresh HPKE
   * key; openmls builds the external commit with the user's participant entry (as member, its own
   * AppDataUpdate) and the hub is sent it by `/update`.
   */
  async joinExternal(name: string, room: RoomUri, roleIndex: number): Promise<UpdateRoomResponse> {
    const suite = mimiSuite();
    const requestKey = suite.signatureGenerateKeyPair();
    const hpke = hpkeKeyPair();
    const head = {
      protocol: 'mls10' as const,
      cipherSuite: 1,
      requestingSignatureKey: requestKey.publicKey,
      requestingCredential: asCredential(basicCredentialBytes(this.userUri(name))),
      groupInfoPublicKey: hpke.publicKey,
    };
    const signature = signWithLabel(
      requestKey.privateKey,
      'GroupInfoRequestTBS',
      encodeValue(head, groupInfoRequestTbsCodec),
    );
    const res = await this.hub.post(
      'groupInfo',
      room,
      encodeValue({ ...head, joiningCode: new Uint8Array(0), signature }, groupInfoRequestCodec),
    );
    if (res.status !== 200) throw new Error(`groupInfo: HTTP ${res.status} ${res.body.toString()}`);
    const answer = decodeAll(new Uint8Array(res.body), groupInfoResponseCodec);
    if (answer.status !== 'success') throw new Error(`groupInfo: ${answer.status}`);
    const tbe = decodeAll(
      decryptWithLabel(
        hpke.privateKey,
        GROUP_INFO_LABEL,
        new TextEncoder().encode(room),
        answer.encryptedGroupInfoAndTree,
      ),
      groupInfoRatchetTreeTbeCodec,
    );
    if (tbe.ratchetTreeOption.representation !== 'full') throw new Error('groupInfo: no ratchet tree');
    // The current participant list is in the GroupInfo's GroupContext; openmls reads it after
    // the join, but the joiner's AppDataUpdate must name the whole new list (full replacement).
    const joined = await this.peer.send('join_external', {
      name,
      group_info: hex(tbe.groupInfo),
      ratchet_tree: hex(tbe.ratchetTreeOption.ratchetTree),
      max_past_epochs: 2,
      app_data_updates: [
        {
          component_id: MimiComponentId.ParticipantList,
          data: hex(participantListWith(tbe.groupInfo, { user: this.userUri(name) as UserUri, roleIndex })),
        },
      ],
    });
    // openmls makes no GroupInfo with an external commit; the joiner's own of the new epoch.
    const info = await this.peer.groupInfo(name, groupIdForRoom(room));
    return this.update(room, {
      proposalOrCommit: asMlsMessage(Buffer.from(String(joined.commit), 'hex')),
      contentType: 'commit',
      groupInfoOption: { representation: 'full', groupInfo: asGroupInfo(unframeMlsMessage(info.groupInfo)) },
      ratchetTreeOption: { representation: 'full', ratchetTree: Buffer.from(String(joined.ratchet_tree), 'hex') },
    });
  }
}

/** The participant list of a GroupInfo's GroupContext with `entry` added, encoded. */
function participantListWith(groupInfo: Uint8Array, entry: Participant): Uint8Array {
  const list = participantListFromExtensions(groupInfoFromBytes(groupInfo).groupContext.extensions) ?? [];
  return encodeParticipantList([...list, entry]);
}

/** A GroupInfo MLSMessage (as openmls replies) → the bare GroupInfo the protocol's GroupInfoOption carries. */
function unframe(hexMessage: string): Uint8Array {
  return unframeMlsMessage(new Uint8Array(Buffer.from(hexMessage, 'hex')));
}
