import { ErrorCode, GatewayError } from '../../../src/common/errors';
import { Platform, type UserUri } from '../../../src/common/ids';
import type { BridgeHost } from '../../../src/ports';
import type { RoomRuntime } from '../state/muc-room';
import { XmppCommands, parseInviteCommand } from './commands';

const BOB = { platform: Platform.Xmpp, userId: 'bob@b.test' };
const DAVE_URI = 'mimi://a.example/u/matrix:%40dave%3Ahs' as UserUri;

function room(affiliation: string): RoomRuntime {
  return {
    jid: 'lounge@muc.b.test',
    occupants: new Map([['bob', { nick: 'bob', affiliation }]]),
  } as unknown as RoomRuntime;
}

function setup(invite?: BridgeHost['invite']) {
  const replies: { room: string; about: string; text: string }[] = [];
  const asked: string[] = [];
  const commands = new XmppCommands(
    { notice: async (r, about, text) => void replies.push({ room: r.roomId, about: about.platformEventId, text }) },
    { warn: () => undefined },
  );
  commands.setHost({
    ...(invite
      ? {
          invite: (r: unknown, address: string, by: unknown) => (
            asked.push(address),
            invite(r as never, address, by as never)
          ),
        }
      : {}),
  } as unknown as BridgeHost);
  return { commands, replies, asked };
}

describe(parseInviteCommand.name, () => {
  it('reads the address of `!mimi invite`, and nothing from other text', () => {
    expect(parseInviteCommand('!mimi invite @dave:hs')).toEqual({ address: '@dave:hs' });
    expect(parseInviteCommand('  !MIMI Invite xmpp:c@b.test ')).toEqual({ address: 'xmpp:c@b.test' });
    expect(parseInviteCommand('!mimi invite')).toEqual({ address: undefined });
    expect(parseInviteCommand('!mimi leave')).toBeUndefined();
    expect(parseInviteCommand('please !mimi invite @dave:hs')).toBeUndefined();
    expect(parseInviteCommand(undefined)).toBeUndefined();
  });
});

describe(XmppCommands.name, () => {
  it('an owner’s invite goes to the host; the bot answers with the invited URI', async () => {
    const { commands, replies, asked } = setup(async () => DAVE_URI);
    await commands.invite(room('owner'), BOB, 'bob', '@dave:hs', 'stanza-1');
    expect(asked).toEqual(['@dave:hs']);
    expect(replies).toEqual([
      {
        room: 'lounge@muc.b.test',
        about: 'stanza-1',
        text: `Invited @dave:hs (${DAVE_URI}): they are a participant of the MIMI room and get an invitation on their side.`,
      },
    ]);
  });

  it('answers with the provider’s reason when the invite is refused', async () => {
    const { commands, replies } = setup(() =>
      Promise.reject(new GatewayError(ErrorCode.NotFound, 'a.example has no user @nobody:hs (notFound)')),
    );
    await commands.invite(room('admin'), BOB, 'bob', '@nobody:hs', 'stanza-2');
    expect(replies.map((r) => r.text)).toEqual(['!mimi invite failed: a.example has no user @nobody:hs (notFound)']);
  });

  it('refuses members and outsiders, and says how to use it without an address', async () => {
    const { commands, replies, asked } = setup(async () => DAVE_URI);
    await commands.invite(room('member'), BOB, 'bob', '@dave:hs', 's');
    await commands.invite(room('owner'), BOB, 'bob', undefined, 's');
    expect(asked).toEqual([]);
    expect(replies.map((r) => r.text)).toEqual([
      "Only the room's owners and admins can use !mimi invite (you are member).",
      expect.stringMatching(/^Usage: !mimi invite <address>/),
    ]);
  });
});
