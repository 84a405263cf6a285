import { userUri } from '../common/ids';
import { buildDelete, buildEdit, buildTextMessage, buildUnlike, MEDIA_TYPE_TEXT_PLAIN, toHex } from '../mimi/content';
import { ParticipantRole } from '../ports';
import { authoriseMessageChange, mayChangeMessage } from './delete-policy';
import { roleIndexOf } from './room-policy';
import { DEFAULT_ROOM_PERMISSIONS, rolesListFor } from './room-state/roles-from-permissions';

const ROLES = rolesListFor(DEFAULT_ROOM_PERMISSIONS, 'invite');
const MOD = userUri('a.example', 'mod');
const ALICE = userUri('a.example', 'alice');
const BOB = userUri('b.example', 'bob');
const PARTICIPANTS = [
  { user: MOD, roleIndex: roleIndexOf(ParticipantRole.Moderator) },
  { user: ALICE, roleIndex: roleIndexOf(ParticipantRole.Member) },
  { user: BOB, roleIndex: roleIndexOf(ParticipantRole.Member) },
];

describe('mayChangeMessage', () => {
  it('lets a member delete their own message and reaction, and a moderator someone else’s', () => {
    for (const kind of ['delete', 'unlike'] as const) {
      expect(mayChangeMessage(ROLES, PARTICIPANTS, { kind, sender: BOB, targetSender: BOB })).toEqual({
        allowed: true,
      });
      expect(mayChangeMessage(ROLES, PARTICIPANTS, { kind, sender: MOD, targetSender: BOB })).toEqual({
        allowed: true,
      });
    }
  });

  it('refuses a member’s delete of someone else’s message, naming the capability', () => {
    expect(mayChangeMessage(ROLES, PARTICIPANTS, { kind: 'delete', sender: BOB, targetSender: ALICE })).toEqual({
      allowed: false,
      reason: `${BOB} may not delete a message of ${ALICE} (no canDeleteOtherMessage)`,
    });
    expect(mayChangeMessage(ROLES, PARTICIPANTS, { kind: 'unlike', sender: BOB, targetSender: ALICE })).toMatchObject({
      allowed: false,
      reason: expect.stringContaining('canDeleteOtherReaction'),
    });
  });

  it('refuses a non-participant, and anyone’s edit of another’s message, even a moderator’s', () => {
    const stranger = userUri('c.example', 'x');
    expect(
      mayChangeMessage(ROLES, PARTICIPANTS, { kind: 'delete', sender: stranger, targetSender: stranger }),
    ).toMatchObject({
      allowed: false,
    });
    expect(mayChangeMessage(ROLES, PARTICIPANTS, { kind: 'edit', sender: MOD, targetSender: BOB })).toEqual({
      allowed: false,
      reason: `${MOD} may not edit a message of ${BOB}`,
    });
    expect(mayChangeMessage(ROLES, PARTICIPANTS, { kind: 'edit', sender: BOB, targetSender: BOB })).toEqual({
      allowed: true,
    });
  });

  it('leaves a change of an unknown message, and other kinds, to the platform', () => {
    expect(mayChangeMessage(ROLES, PARTICIPANTS, { kind: 'delete', sender: BOB, targetSender: undefined })).toEqual({
      allowed: true,
    });
    expect(mayChangeMessage(ROLES, PARTICIPANTS, { kind: 'text', sender: BOB, targetSender: ALICE })).toEqual({
      allowed: true,
    });
  });
});

describe('authoriseMessageChange', () => {
  const env = (senderUri: string) => ({ senderUri, roomUri: 'mimi://a.example/r/room' });
  const original = buildTextMessage({ ...env(ALICE), text: 'hi', contentType: MEDIA_TYPE_TEXT_PLAIN });
  const targetId = new Uint8Array(32).fill(7);
  const room = {
    roles: async () => ROLES,
    participants: async () => PARTICIPANTS,
    senderOf: jest.fn(async (id: string) => (id === toHex(targetId) ? ALICE : undefined)),
  };

  it('looks up the sender of the message a delete, unlike or edit replaces', async () => {
    expect(await authoriseMessageChange(buildDelete({ ...env(BOB), replaces: targetId }), BOB, room)).toMatchObject({
      allowed: false,
    });
    expect(await authoriseMessageChange(buildDelete({ ...env(MOD), replaces: targetId }), MOD, room)).toEqual({
      allowed: true,
    });
    expect(await authoriseMessageChange(buildUnlike({ ...env(BOB), replaces: targetId }), BOB, room)).toMatchObject({
      allowed: false,
    });
    const edit = buildEdit({ ...env(BOB), replaces: targetId, text: 'x', contentType: MEDIA_TYPE_TEXT_PLAIN });
    expect(await authoriseMessageChange(edit, BOB, room)).toMatchObject({ allowed: false });
    expect(room.senderOf).toHaveBeenCalledWith(toHex(targetId));
  });

  it('allows content that changes no message without a lookup', async () => {
    room.senderOf.mockClear();
    expect(await authoriseMessageChange(original, ALICE, room)).toEqual({ allowed: true });
    expect(room.senderOf).not.toHaveBeenCalled();
  });
});
