/**
 * A started XmppBridge on a fake transport with a scripted MUC (lounge@conference.test, where
 * alice is owner), for the bridge's specs.
 */
import { Platform, userUri } from '../../../src/common/ids';
import type { InboundEvent, InboundSink, RemoteUser } from '../../../src/ports';
import { xml, type XmlElement } from '../../../bridges/xmpp/protocol/xml';
import type { NativeUsers } from '../../../bridges/xmpp/muc/mention-directory';
import { MemoryStateStore } from '../../../bridges/xmpp/state/bridge-state';
import { XmppBridge } from '../../../bridges/xmpp/xmpp.bridge';
import { type FakeOccupant, FakeMucService, FakeXmppTransport } from './fake-xmpp-transport';
import { RecordingSink } from './recording-sink';

export const COMPONENT = 'mimi.test';
export const BOT_FULL_JID = `mimibot@${COMPONENT}/mimi`;
export const ROOM = 'lounge@conference.test';
export const ROOM_REF = { platform: Platform.Xmpp, roomId: ROOM };
export const ALICE_JID = 'alice@example.org';
export const ALICE = {
  nick: 'alice',
  jid: `${ALICE_JID}/phone`,
  affiliation: 'owner',
  role: 'moderator',
  occupantId: 'occ-alice',
};
export const DAVE: RemoteUser = { userUri: userUri('follower.example', 'dave'), displayName: 'Dave' };
export const DAVE_PUPPET = `dave=follower.example@${COMPONENT}/mimi`;
export const RELAY_ADDRESS = 'relay@example.org/r';
export const FILES_HOST = 'files.example';
export const SHORT_TIMEOUT_MS = 300;

export interface Harness {
  bridge: XmppBridge;
  transport: FakeXmppTransport;
  muc: FakeMucService;
  sink: RecordingSink;
  store: MemoryStateStore;
}

export async function harness(
  opts: {
    mode?: 'component' | 'relay';
    store?: MemoryStateStore;
    selfPingIntervalMs?: number;
    /** More occupants seated before the bot joins (alice always is). */
    occupants?: FakeOccupant[];
    /** Where the bridge reports (default: the harness's RecordingSink). */
    sink?: InboundSink;
    /** The MUC service mirror rooms are created on (none by default). */
    mucService?: string;
    /** Native users ↔ MIMI user URIs (mentions). */
    nativeUsers?: NativeUsers;
    /** XEP-0425 version the MUC supports (none by default). */
    moderation?: 0 | 1;
  } = {},
): Promise<Harness> {
  const mode = opts.mode ?? 'component';
  const transport = new FakeXmppTransport(
    mode === 'component' ? 'component' : 'client',
    mode === 'component' ? COMPONENT : RELAY_ADDRESS,
  );
  const muc = new FakeMucService();
  muc.moderation = opts.moderation;
  muc.seat(ROOM, { ...ALICE });
  for (const o of opts.occupants ?? []) muc.seat(ROOM, { ...o });
  transport.respond = muc.respond;
  const sink = new RecordingSink();
  const store = opts.store ?? new MemoryStateStore();
  const bridge = new XmppBridge({
    mode,
    transport,
    componentDomain: mode === 'component' ? COMPONENT : undefined,
    botNick: 'MIMI',
    links: [ROOM],
    attachmentHosts: [FILES_HOST],
    stateStore: store,
    joinTimeoutMs: 2000,
    iqTimeoutMs: 2000,
    selfPingIntervalMs: opts.selfPingIntervalMs ?? 0,
    sinkRetryInitialMs: 10,
    ...(opts.mucService !== undefined ? { mucService: opts.mucService } : {}),
    ...(opts.nativeUsers !== undefined ? { nativeUsers: opts.nativeUsers } : {}),
  });
  await bridge.start(opts.sink ?? sink.sink);
  return { bridge, transport, muc, sink, store };
}

/** A groupchat message from a native occupant, as the MUC reflects it to the bot. */
export function fromAlice(
  h: Harness,
  body: string | undefined,
  extra: XmlElement[] = [],
  id = `m-${Math.random()}`,
): XmlElement[] {
  const occupant = h.muc.room(ROOM).get('alice')!;
  return h.muc.broadcast(
    ROOM,
    occupant,
    xml('message', { type: 'groupchat', id }, body !== undefined ? xml('body', {}, body) : undefined, extra),
  );
}

export async function deliver(h: Harness, stanzas: XmlElement[]): Promise<void> {
  for (const s of stanzas) if (s.attrs.to === BOT_FULL_JID || s.attrs.to === RELAY_ADDRESS) await h.transport.inject(s);
}

export const isPost = (e: InboundEvent): boolean => e.kind === 'message' && e.action.type === 'post';
