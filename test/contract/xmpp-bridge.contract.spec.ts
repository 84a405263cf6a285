import { Logger } from '@nestjs/common';
import { Platform } from '../../src/common/ids';
import { ALICE_JID, deliver, fromAlice, harness, ROOM_REF } from '../kits/xmpp/bridge-harness';
import { type ContractTarget, describePlatformBridgeContract } from './platform-bridge.contract';

/** The XMPP bridge in both modes, on the fake transport with a scripted MUC (test/kits/xmpp). */
beforeAll(() => Logger.overrideLogger(false));

const BOB = {
  nick: 'bob',
  jid: 'bob@example.org/pc',
  affiliation: 'member',
  role: 'participant',
  occupantId: 'occ-bob',
};

function xmppTarget(mode: 'component' | 'relay', capabilities: ContractTarget['capabilities']): ContractTarget {
  return {
    name: `XmppBridge (${mode} mode, fake transport)`,
    capabilities,
    knownGaps: {
      'Roles:':
        'Member is affiliation member only (muc-roles.ts mucChangeFor), so a moderator role given earlier stays ' +
        'and the snapshot still says moderator (Prosody 0.12 does the same: test/e2e/xmpp-contract.e2e-spec.ts)',
    },
    async start(sink) {
      const h = await harness({ mode, sink, occupants: [BOB], mucService: 'conference.test' });
      return {
        bridge: h.bridge,
        room: ROOM_REF,
        // The scripted MUC's disco#info has no muc_open feature.
        joinRule: 'invite',
        native: { platform: Platform.Xmpp, userId: ALICE_JID },
        other: { platform: Platform.Xmpp, userId: 'bob@example.org' },
        nativePost: (text) => deliver(h, fromAlice(h, text)),
        // The bridge retries a refused event itself (inbound/core-delivery.ts).
        redeliver: async () => undefined,
        texts: () =>
          h.transport.sent.filter((el) => el.name === 'message').flatMap((el) => el.getChildText('body') ?? []),
        stop: () => h.bridge.stop(),
      };
    },
  };
}

describePlatformBridgeContract(
  xmppTarget('component', {
    puppetMembership: true,
    moderation: true,
    roles: true,
    mirrorRooms: true,
    joinRules: true,
  }),
);
describePlatformBridgeContract(
  xmppTarget('relay', {
    puppetMembership: 'relay mode has no puppets: MIMI users speak through one account',
    moderation: true,
    roles: true,
    mirrorRooms: true,
    joinRules: true,
  }),
);
