import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { MemoryStateStore } from '../../bridges/xmpp/state/bridge-state';
import { clientTransport, componentTransport } from '../../bridges/xmpp/session/xmpp-transport';
import { XmppBridge } from '../../bridges/xmpp/xmpp.bridge';
import { Platform } from '../../src/common/ids';
import type { InboundSink } from '../../src/ports';
import {
  type ContractSubject,
  type ContractTarget,
  describePlatformBridgeContract,
} from '../contract/platform-bridge.contract';
import { PROSODY_MUC_DOMAIN, ProsodyServer } from '../servers/prosody/prosody-server';
import { XmppTestUser } from '../servers/prosody/xmpp-test-user';

/**
 * The port contract (test/contract) against a real Prosody, in both modes: one server for the
 * file, a fresh bridge and a fresh room (alice owner, bob a plain occupant, the bridge's account
 * owner too) for every contract test.
 */

const COMPONENT_DOMAIN = 'mimi.localhost';
const ALICE = { username: 'alice', password: 'alice-pw' };
const BOB = { username: 'bob', password: 'bob-pw' };
const RELAY = { username: 'relay', password: 'relay-pw' };
let prosody: ProsodyServer;
let alice: XmppTestUser;
let bob: XmppTestUser;

beforeAll(async () => {
  Logger.overrideLogger(false);
  prosody = await ProsodyServer.start({ componentDomain: COMPONENT_DOMAIN, accounts: [ALICE, BOB, RELAY] });
  alice = await XmppTestUser.connect(prosody.c2sService, ALICE.username, ALICE.password);
  bob = await XmppTestUser.connect(prosody.c2sService, BOB.username, BOB.password);
}, 120_000);

afterAll(async () => {
  await alice?.stop();
  await bob?.stop();
  await prosody?.stop();
});

function newBridge(mode: 'component' | 'relay', room: string): XmppBridge {
  const common = { attachmentHosts: ['files.example'], stateStore: new MemoryStateStore(), joinTimeoutMs: 10_000 };
  if (mode === 'component') {
    return new XmppBridge({
      mode,
      transport: componentTransport(
        { service: prosody.componentService, domain: COMPONENT_DOMAIN, secret: prosody.componentSecret },
        { initialMs: 100, maxMs: 1000 },
      ),
      componentDomain: COMPONENT_DOMAIN,
      botNick: 'MIMI',
      mucService: PROSODY_MUC_DOMAIN,
      ...common,
    });
  }
  return new XmppBridge({
    mode,
    transport: clientTransport(
      { service: prosody.c2sService, jid: `${RELAY.username}@localhost`, password: RELAY.password, resource: 'relay' },
      { initialMs: 100, maxMs: 1000 },
    ),
    botNick: 'MIMI relay',
    links: [room],
    mucService: PROSODY_MUC_DOMAIN,
    ...common,
  });
}

async function open(mode: 'component' | 'relay', sink: InboundSink): Promise<ContractSubject> {
  const jid = `contract-${randomUUID().slice(0, 8)}@${PROSODY_MUC_DOMAIN}`;
  await alice.createRoom(jid, 'alice');
  await alice.setAffiliation(
    jid,
    mode === 'component' ? `mimibot@${COMPONENT_DOMAIN}` : `${RELAY.username}@localhost`,
    'owner',
  );
  await bob.join(jid, 'bob');
  const since = alice.mark();
  const bridge = newBridge(mode, jid);
  await bridge.start(sink);
  const room = { platform: Platform.Xmpp, roomId: jid };
  try {
    await bridge.getRoomSnapshot(room); // the bot joins
  } catch (e) {
    await bridge.stop();
    throw e;
  }
  return {
    bridge,
    room,
    joinRule: 'public',
    native: { platform: Platform.Xmpp, userId: alice.jid },
    other: { platform: Platform.Xmpp, userId: bob.jid },
    nativePost: async (text) => void (await alice.say(jid, text)),
    // The bridge retries a refused event itself.
    redeliver: async () => undefined,
    // What alice saw of the room (groupchat and private notices), after a moment for in-flight stanzas.
    texts: async () => {
      await new Promise((r) => setTimeout(r, 300));
      return alice.received
        .slice(since)
        .filter((el) => el.name === 'message' && el.attrs.from?.startsWith(`${jid}/`))
        .flatMap((el) => el.getChildText('body') ?? []);
    },
    stop: async () => {
      await bridge.stop();
      await bob.leave(jid);
      await alice.leave(jid);
    },
  };
}

function target(mode: 'component' | 'relay', capabilities: ContractTarget['capabilities']): ContractTarget {
  return {
    name: `XmppBridge (${mode} mode, Prosody)`,
    capabilities,
    waitMs: 15_000,
    knownGaps: {
      'Roles:':
        'Member is affiliation member only (muc-roles.ts mucChangeFor): Prosody keeps the moderator role given ' +
        'earlier, so the snapshot still says moderator',
    },
    start: (sink) => open(mode, sink),
  };
}

describePlatformBridgeContract(
  target('component', { puppetMembership: true, moderation: true, roles: true, mirrorRooms: true, joinRules: true }),
);
describePlatformBridgeContract(
  target('relay', {
    puppetMembership: 'relay mode has no puppets: MIMI users speak through one account',
    moderation: true,
    roles: true,
    mirrorRooms: true,
    joinRules: true,
  }),
);
