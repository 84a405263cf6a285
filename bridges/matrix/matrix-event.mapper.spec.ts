import { Platform, type UserUri } from '../../src/common/ids';
import { type InboundEvent, ParticipantRole } from '../../src/ports';
import { type MentionResolver } from './html-markdown';
import {
  type MapperContext,
  type MatrixEvent,
  MalformedEventError,
  asMatrixEvent,
  creatorsOf,
  mapMatrixEvent,
  mapPowerLevels,
  mapRedaction,
  messageContentFor,
  outboundEventFor,
  powerLevelForRole,
  powerLevelOf,
  roleForPowerLevel,
  stripReplyFallback,
} from './matrix-event.mapper';
import { MatrixIds } from './matrix-ids';

const HS = 'hs.test';
const HS_URL = 'http://127.0.0.1:8008';
const ROOM = '!room:hs.test';
const ALICE = '@alice:hs.test';
const BOB = '@bob:hs.test';
const BOT = '@mimibot:hs.test';
const CAROL_URI = 'mimi://follower.example/u/carol' as UserUri;
const CAROL_GHOST = '@_mimi_follower.example_carol:hs.test';
const ALICE_URI = 'mimi://gw.example/u/matrix:%40alice%3Ahs.test';
const TS = 1_700_000_000_000;
const EVENT_ID = '$event';
const TARGET_ID = '$target';

const ids = new MatrixIds('_mimi_', HS, 'mimibot');
const mentions: MentionResolver = {
  userUriOf: (m) => (m === ALICE ? ALICE_URI : ids.userUriOfGhost(m)),
  mxidOf: (u) => (u === ALICE_URI ? ALICE : ids.ghostUserId(u)),
};
const ctx: MapperContext = {
  ids,
  homeserverUrl: HS_URL,
  mentions,
  displayNameOf: (_room, mxid) => (mxid === ALICE ? 'Alice' : undefined),
};

function ev(partial: Partial<MatrixEvent> & Pick<MatrixEvent, 'type' | 'content'>): MatrixEvent {
  return { event_id: EVENT_ID, room_id: ROOM, sender: ALICE, origin_server_ts: TS, ...partial };
}

function inbound(e: MatrixEvent): InboundEvent[] {
  const m = mapMatrixEvent(e, ctx);
  if (m.kind !== 'inbound') throw new Error(`expected inbound, got ${m.kind}`);
  return [...m.events];
}

const ALICE_REF = { platform: Platform.Matrix, userId: ALICE, displayName: 'Alice' };

describe('asMatrixEvent', () => {
  it('accepts a well-formed event', () => {
    const e = ev({ type: 'm.room.message', content: { body: 'x' } });
    expect(asMatrixEvent(e)).toBe(e);
  });

  it.each([
    ['not an object', 'x'],
    ['no event_id', { room_id: ROOM, sender: ALICE, type: 't', content: {}, origin_server_ts: 1 }],
    ['a bad room_id', { event_id: '$e', room_id: 'room', sender: ALICE, type: 't', content: {}, origin_server_ts: 1 }],
    [
      'content not an object',
      { event_id: '$e', room_id: ROOM, sender: ALICE, type: 't', content: [], origin_server_ts: 1 },
    ],
    ['no timestamp', { event_id: '$e', room_id: ROOM, sender: ALICE, type: 't', content: {} }],
    [
      'a numeric state_key',
      { event_id: '$e', room_id: ROOM, sender: ALICE, type: 't', content: {}, origin_server_ts: 1, state_key: 1 },
    ],
  ])('rejects an event with %s', (_what, raw) => {
    expect(() => asMatrixEvent(raw)).toThrow(MalformedEventError);
  });
});

describe('messages', () => {
  it.each([
    ['m.text', 'text'],
    ['m.notice', 'notice'],
    ['m.emote', 'emote'],
    ['m.unknown', 'text'],
  ])('maps %s to a %s body', (msgtype, kind) => {
    const [e] = inbound(ev({ type: 'm.room.message', content: { msgtype, body: 'hi' } }));
    expect(e).toEqual({
      kind: 'message',
      room: { platform: Platform.Matrix, roomId: ROOM },
      platformEventId: EVENT_ID,
      sender: ALICE_REF,
      action: { type: 'post', body: { kind, text: 'hi' } },
      timestamp: TS,
    });
  });

  it('converts a formatted body to Markdown and mentions to MIMI users', () => {
    const [e] = inbound(
      ev({
        type: 'm.room.message',
        content: {
          msgtype: 'm.text',
          body: 'Alice: look',
          format: 'org.matrix.custom.html',
          formatted_body: `<a href="https://matrix.to/#/${ALICE}">Alice</a>: <em>look</em>`,
          'm.mentions': { user_ids: [ALICE, CAROL_GHOST, 42] },
        },
      }),
    );
    expect(e).toMatchObject({
      action: {
        type: 'post',
        body: {
          kind: 'text',
          text: 'Alice: look',
          markdown: `[Alice](${ALICE_URI}): *look*`,
          mentions: [{ platform: Platform.Matrix, userId: ALICE }, CAROL_URI],
        },
      },
    });
  });

  it('takes pills as mentions when a client sends no m.mentions', () => {
    const [e] = inbound(
      ev({
        type: 'm.room.message',
        content: {
          msgtype: 'm.text',
          body: 'x',
          format: 'org.matrix.custom.html',
          formatted_body: `<a href="https://matrix.to/#/${BOB}">Bob</a>`,
        },
      }),
    );
    expect(e).toMatchObject({ action: { body: { mentions: [{ platform: Platform.Matrix, userId: BOB }] } } });
  });

  it('strips reply fallbacks from replies, in text and HTML', () => {
    const [e] = inbound(
      ev({
        type: 'm.room.message',
        content: {
          msgtype: 'm.text',
          body: `> <${BOB}> original\n> second line\n\nmy answer`,
          format: 'org.matrix.custom.html',
          formatted_body:
            '<mx-reply><blockquote><a href="https://matrix.to/#/x">In reply to</a> original</blockquote></mx-reply>my <b>answer</b>',
          'm.relates_to': { 'm.in_reply_to': { event_id: TARGET_ID } },
        },
      }),
    );
    expect(e).toMatchObject({
      action: {
        type: 'post',
        inReplyTo: { platformEventId: TARGET_ID },
        body: { text: 'my answer', markdown: 'my **answer**' },
      },
    });
  });

  it('keeps a leading quote in a message that is not a reply', () => {
    const [e] = inbound(ev({ type: 'm.room.message', content: { msgtype: 'm.text', body: '> quoted\n\ntext' } }));
    expect(e).toMatchObject({ action: { body: { text: '> quoted\n\ntext' } } });
  });

  it('treats a thread message as a reply to its root', () => {
    const [e] = inbound(
      ev({
        type: 'm.room.message',
        content: { msgtype: 'm.text', body: 'x', 'm.relates_to': { rel_type: 'm.thread', event_id: TARGET_ID } },
      }),
    );
    expect(e).toMatchObject({ action: { inReplyTo: { platformEventId: TARGET_ID } } });
  });

  it('maps an edit to its m.new_content, not the fallback', () => {
    const [e] = inbound(
      ev({
        type: 'm.room.message',
        content: {
          msgtype: 'm.text',
          body: '* fixed',
          'm.new_content': { msgtype: 'm.text', body: 'fixed' },
          'm.relates_to': { rel_type: 'm.replace', event_id: TARGET_ID },
        },
      }),
    );
    expect(e).toMatchObject({
      action: { type: 'edit', target: { platformEventId: TARGET_ID }, body: { kind: 'text', text: 'fixed' } },
    });
  });

  it('rejects an edit without m.new_content and a message without a body', () => {
    expect(() =>
      mapMatrixEvent(
        ev({
          type: 'm.room.message',
          content: { body: '* x', 'm.relates_to': { rel_type: 'm.replace', event_id: TARGET_ID } },
        }),
        ctx,
      ),
    ).toThrow(MalformedEventError);
    expect(() => mapMatrixEvent(ev({ type: 'm.room.message', content: { msgtype: 'm.text', body: 3 } }), ctx)).toThrow(
      MalformedEventError,
    );
  });

  it('maps media to an attachment on the authenticated media API, with a caption', () => {
    const [e] = inbound(
      ev({
        type: 'm.room.message',
        content: {
          msgtype: 'm.image',
          body: 'look at this',
          filename: 'cat.png',
          url: 'mxc://hs.test/abc',
          info: { mimetype: 'image/png', size: 1234 },
        },
      }),
    );
    expect(e).toMatchObject({
      action: {
        type: 'post',
        body: {
          kind: 'text',
          text: 'look at this',
          attachments: [
            {
              url: 'http://127.0.0.1:8008/_matrix/client/v1/media/download/hs.test/abc',
              contentType: 'image/png',
              size: 1234,
              filename: 'cat.png',
              description: 'look at this',
            },
          ],
        },
      },
    });
  });

  it('maps a file without caption and without info', () => {
    const [e] = inbound(
      ev({ type: 'm.room.message', content: { msgtype: 'm.file', body: 'report.pdf', url: 'mxc://hs.test/f1' } }),
    );
    expect(e).toMatchObject({
      action: {
        body: { text: '', attachments: [{ contentType: 'application/octet-stream', filename: 'report.pdf' }] },
      },
    });
  });

  it('keeps the body of encrypted or foreign media without an attachment', () => {
    const [e] = inbound(
      ev({ type: 'm.room.message', content: { msgtype: 'm.image', body: 'x.png', url: 'https://evil.example/x.png' } }),
    );
    expect(e).toMatchObject({ action: { body: { text: 'x.png' } } });
    expect(e!.kind === 'message' && e!.action.type === 'post' && e!.action.body.attachments).toBeFalsy();
  });

  it('carries the transaction ID of an echo and sees the ghost as the MIMI user', () => {
    const [e] = inbound(
      ev({
        sender: CAROL_GHOST,
        type: 'm.room.message',
        content: { msgtype: 'm.text', body: 'x' },
        unsigned: { transaction_id: 'mimi.post.abc' },
      }),
    );
    expect(e).toMatchObject({ sender: { userUri: CAROL_URI }, echoKeys: ['mimi.post.abc'] });
  });

  it('maps reactions and rejects one without a key', () => {
    const [e] = inbound(
      ev({
        type: 'm.reaction',
        content: { 'm.relates_to': { rel_type: 'm.annotation', event_id: TARGET_ID, key: '👍' } },
      }),
    );
    expect(e).toMatchObject({ action: { type: 'react', target: { platformEventId: TARGET_ID }, key: '👍' } });
    expect(() =>
      mapMatrixEvent(
        ev({ type: 'm.reaction', content: { 'm.relates_to': { rel_type: 'm.annotation', event_id: TARGET_ID } } }),
        ctx,
      ),
    ).toThrow(MalformedEventError);
  });

  it('maps redactions to delete, or to unreact for a reaction (v11 content.redacts and older top-level redacts)', () => {
    const v11 = ev({ type: 'm.room.redaction', content: { redacts: TARGET_ID } });
    expect(mapMatrixEvent(v11, ctx)).toEqual({ kind: 'redaction', target: TARGET_ID });
    expect(mapRedaction(v11, ctx, 'm.room.message')).toMatchObject({
      action: { type: 'delete', target: { platformEventId: TARGET_ID } },
    });
    const old = ev({ type: 'm.room.redaction', content: {}, redacts: TARGET_ID });
    expect(mapRedaction(old, ctx, 'm.reaction')).toMatchObject({
      action: { type: 'unreact', reaction: { platformEventId: TARGET_ID } },
    });
    expect(mapRedaction(old, ctx, undefined)).toMatchObject({ action: { type: 'delete' } });
    expect(() => mapMatrixEvent(ev({ type: 'm.room.redaction', content: {} }), ctx)).toThrow(MalformedEventError);
  });
});

describe('commands', () => {
  it.each([
    ['!mimi link', 'link'],
    ['!mimi   unlink ', 'unlink'],
    ['!mimi status', 'status'],
    ['!mimi', 'help'],
    ['!mimi help', 'help'],
  ])('recognises %j', (body, command) => {
    expect(mapMatrixEvent(ev({ type: 'm.room.message', content: { msgtype: 'm.text', body } }), ctx)).toEqual({
      kind: 'command',
      command,
    });
  });

  it.each(['!mimi link now', '!mimi link\nfoo', '!mimi destroy'])('answers help for %j, never running it', (body) => {
    expect(mapMatrixEvent(ev({ type: 'm.room.message', content: { msgtype: 'm.text', body } }), ctx)).toMatchObject({
      kind: 'command',
      command: 'help',
    });
  });

  it.each([
    ['!mimi invite xmpp:bob@b.test', { argument: 'xmpp:bob@b.test' }],
    ['!mimi  INVITE  @carol:other.hs ', { argument: '@carol:other.hs' }],
    ['!mimi invite', {}],
  ])('reads the address of %j', (body, extra) => {
    expect(mapMatrixEvent(ev({ type: 'm.room.message', content: { msgtype: 'm.text', body } }), ctx)).toEqual({
      kind: 'command',
      command: 'invite',
      ...extra,
    });
  });

  it('ignores commands from ghosts and notices, and non-command text', () => {
    expect(
      mapMatrixEvent(
        ev({ sender: CAROL_GHOST, type: 'm.room.message', content: { msgtype: 'm.text', body: '!mimi link' } }),
        ctx,
      ).kind,
    ).toBe('inbound');
    expect(
      mapMatrixEvent(ev({ type: 'm.room.message', content: { msgtype: 'm.notice', body: '!mimi link' } }), ctx).kind,
    ).toBe('inbound');
    expect(
      mapMatrixEvent(ev({ type: 'm.room.message', content: { msgtype: 'm.text', body: '!mimilink' } }), ctx).kind,
    ).toBe('inbound');
  });
});

describe('membership', () => {
  const member = (
    sender: string,
    target: string,
    membership: string,
    prev?: string,
    extra: Record<string, unknown> = {},
  ) =>
    ev({
      type: 'm.room.member',
      sender,
      state_key: target,
      content: { membership, ...extra },
      ...(prev ? { unsigned: { prev_content: { membership: prev } } } : {}),
    });

  it.each([
    ['join', ALICE, ALICE, 'join', undefined, 'join', false],
    ['invite', ALICE, BOB, 'invite', undefined, 'invite', true],
    ['leave', BOB, BOB, 'leave', 'join', 'leave', false],
    ['kick', ALICE, BOB, 'leave', 'join', 'kick', true],
    ['revoked invite', ALICE, BOB, 'leave', 'invite', 'kick', true],
    ['rejected invite', BOB, BOB, 'leave', 'invite', 'leave', false],
    ['ban', ALICE, BOB, 'ban', 'join', 'ban', true],
    ['unban', ALICE, BOB, 'leave', 'ban', 'unban', true],
  ])('maps a %s', (_what, sender, target, membership, prev, expected, hasBy) => {
    const [e] = inbound(member(sender, target, membership, prev, { reason: 'r' }));
    expect(e).toMatchObject({ kind: 'membership', membership: expected, reason: 'r', user: { userId: target } });
    expect(e!.kind === 'membership' && e!.by).toEqual(
      hasBy ? { platform: Platform.Matrix, userId: sender } : undefined,
    );
  });

  it('maps a ghost joining as the MIMI user', () => {
    const [e] = inbound(member(CAROL_GHOST, CAROL_GHOST, 'join'));
    expect(e).toMatchObject({ membership: 'join', user: { userUri: CAROL_URI } });
  });

  it.each([
    ['a profile change', ALICE, ALICE, 'join', 'join'],
    ['a repeated leave', BOB, BOB, 'leave', 'leave'],
    ['a knock', BOB, BOB, 'knock', undefined],
  ])('ignores %s', (_what, sender, target, membership, prev) => {
    expect(mapMatrixEvent(member(sender, target, membership, prev), ctx).kind).toBe('ignored');
  });

  it("reports the bot's invite for it to accept, and ignores its other membership", () => {
    expect(mapMatrixEvent(member(ALICE, BOT, 'invite'), ctx)).toEqual({ kind: 'botInvite' });
    expect(mapMatrixEvent(member(BOT, BOT, 'join', 'invite'), ctx).kind).toBe('ignored');
  });
});

describe('power levels and roles', () => {
  it.each([
    [100, 0, ParticipantRole.Owner],
    [75, 0, ParticipantRole.Admin],
    [50, 0, ParticipantRole.Moderator],
    [0, 0, ParticipantRole.Member],
    [-1, 0, ParticipantRole.Visitor],
    [5, 10, ParticipantRole.Visitor],
    [Number.POSITIVE_INFINITY, 0, ParticipantRole.Owner],
  ])('reads level %d (send level %d) as %s', (level, send, role) => {
    expect(roleForPowerLevel(level, send)).toBe(role);
  });

  it.each([
    ParticipantRole.Owner,
    ParticipantRole.Admin,
    ParticipantRole.Moderator,
    ParticipantRole.Member,
    ParticipantRole.Visitor,
  ] as const)('writes %s as a level that reads back as the same role', (role) => {
    const pl = { events_default: 0, events: { 'm.room.message': 10 } };
    expect(roleForPowerLevel(powerLevelForRole(role, pl), 10)).toBe(role);
  });

  it('reads levels with the spec defaults and v12 creators', () => {
    expect(powerLevelOf(undefined, ALICE)).toBe(0);
    expect(powerLevelOf({ users_default: 5 }, ALICE)).toBe(5);
    expect(powerLevelOf({ users: { [ALICE]: '50' } }, ALICE)).toBe(50);
    const creators = creatorsOf({ sender: ALICE, content: { room_version: '12', additional_creators: [BOB] } });
    expect([...creators]).toEqual([ALICE, BOB]);
    expect(powerLevelOf({ users: {} }, BOB, creators)).toBe(Number.POSITIVE_INFINITY);
    expect(creatorsOf({ sender: ALICE, content: { room_version: '10' } }).size).toBe(0);
  });

  it('reports one role event per user whose role changed', () => {
    const e = ev({
      type: 'm.room.power_levels',
      state_key: '',
      content: { users: { [ALICE]: 100, [BOB]: 50, [CAROL_GHOST]: 0, [BOT]: 100 } },
      unsigned: { prev_content: { users: { [ALICE]: 100, [BOB]: 0, [CAROL_GHOST]: 75 } } },
    });
    const out = mapPowerLevels(e, ctx);
    expect(out).toEqual([
      {
        kind: 'role',
        room: { platform: Platform.Matrix, roomId: ROOM },
        platformEventId: `${EVENT_ID}#${CAROL_GHOST}`,
        user: { userUri: CAROL_URI },
        role: ParticipantRole.Member,
        by: { platform: Platform.Matrix, userId: ALICE },
        timestamp: TS,
      },
      expect.objectContaining({ platformEventId: `${EVENT_ID}#${BOB}`, role: ParticipantRole.Moderator }),
    ]);
  });

  it('reports everyone listed, and the permissions, when the previous levels are unknown', () => {
    const e = ev({ type: 'm.room.power_levels', state_key: '', content: { users: { [BOB]: 50 } } });
    expect(mapPowerLevels(e, ctx).map((x) => x.kind)).toEqual(['role', 'roomPolicy']);
  });

  it('reports the new permissions when an action needs another level', () => {
    const before = { users: { [BOB]: 50 }, kick: 50 };
    const e = ev({ type: 'm.room.power_levels', state_key: '', content: { ...before, kick: 100, invite: 50 } });
    const out = mapPowerLevels(e, ctx, before);
    expect(out).toEqual([
      {
        kind: 'roomPolicy',
        room: { platform: Platform.Matrix, roomId: ROOM },
        platformEventId: `${EVENT_ID}#permissions`,
        permissions: {
          minimumRole: expect.objectContaining({ kick: ParticipantRole.Owner, invite: ParticipantRole.Moderator }),
        },
        timestamp: TS,
      },
    ]);
  });

  it('uses levels the caller remembers when prev_content is missing', () => {
    const e = ev({ type: 'm.room.power_levels', state_key: '', content: { users: { [BOB]: 50 } } });
    expect(mapPowerLevels(e, ctx, { users: { [BOB]: 50 } })).toHaveLength(0);
  });
});

describe('room metadata', () => {
  it('says who changed the name or topic, unless it was the bot', () => {
    expect(inbound(ev({ type: 'm.room.topic', state_key: '', content: { topic: 'T' } }))[0]).toMatchObject({
      by: { platform: Platform.Matrix, userId: ALICE },
    });
    const byBot = inbound(ev({ type: 'm.room.name', state_key: '', sender: BOT, content: { name: 'N' } }))[0];
    expect(byBot).not.toHaveProperty('by');
  });

  it('maps a join rule change to the room policy: public is open, every other rule invite-only', () => {
    const rule = (join_rule: string) =>
      inbound(ev({ type: 'm.room.join_rules', state_key: '', content: { join_rule } }))[0];
    expect(rule('public')).toMatchObject({ kind: 'roomPolicy', joinRule: 'public', platformEventId: EVENT_ID });
    expect(rule('knock')).toMatchObject({ kind: 'roomPolicy', joinRule: 'invite' });
    expect(rule('restricted')).toMatchObject({ kind: 'roomPolicy', joinRule: 'invite' });
  });

  it('maps name, topic and avatar', () => {
    expect(inbound(ev({ type: 'm.room.name', state_key: '', content: { name: 'N' } }))[0]).toMatchObject({
      kind: 'roomMetadata',
      name: 'N',
    });
    expect(inbound(ev({ type: 'm.room.topic', state_key: '', content: { topic: 'T' } }))[0]).toMatchObject({
      topic: 'T',
    });
    expect(
      inbound(ev({ type: 'm.room.avatar', state_key: '', content: { url: 'mxc://hs.test/av' } }))[0],
    ).toMatchObject({
      avatarUrl: 'http://127.0.0.1:8008/_matrix/client/v1/media/download/hs.test/av',
    });
    expect(inbound(ev({ type: 'm.room.name', state_key: '', content: {} }))[0]).toMatchObject({ name: '' });
  });

  it('ignores other event types', () => {
    expect(mapMatrixEvent(ev({ type: 'm.room.encrypted', content: {} }), ctx).kind).toBe('ignored');
    expect(mapMatrixEvent(ev({ type: 'm.room.name', state_key: 'x', content: { name: 'N' } }), ctx).kind).toBe(
      'ignored',
    );
  });
});

describe('outbound', () => {
  it('sends plain text without a formatted body, with empty intentional mentions', () => {
    expect(outboundEventFor({ type: 'post', body: { kind: 'notice', text: 'hi' } }, ctx)).toEqual({
      type: 'm.room.message',
      content: { msgtype: 'm.notice', body: 'hi', 'm.mentions': { user_ids: [] } },
    });
  });

  it('renders Markdown, pills mentions and lists them in m.mentions', () => {
    const out = outboundEventFor(
      {
        type: 'post',
        body: { kind: 'text', text: 'x', markdown: `**hi** [Alice](${ALICE_URI})`, mentions: [CAROL_URI] },
      },
      ctx,
    );
    expect(out?.content).toEqual({
      msgtype: 'm.text',
      body: 'hi Alice',
      format: 'org.matrix.custom.html',
      formatted_body: `<p><strong>hi</strong> <a href="https://matrix.to/#/${ALICE}">Alice</a></p>`,
      'm.mentions': { user_ids: [CAROL_GHOST, ALICE] },
    });
  });

  it('sends replies without a fallback', () => {
    const out = outboundEventFor(
      { type: 'post', body: { kind: 'text', text: 'a' }, inReplyTo: { platformEventId: TARGET_ID } },
      ctx,
    );
    expect(out?.content['m.relates_to']).toEqual({ 'm.in_reply_to': { event_id: TARGET_ID } });
    expect(out?.content['body']).toBe('a');
  });

  it('sends edits with m.new_content and a fallback body', () => {
    const out = outboundEventFor(
      { type: 'edit', target: { platformEventId: TARGET_ID }, body: { kind: 'text', text: 'x', markdown: '*new*' } },
      ctx,
    );
    expect(out?.content).toEqual({
      msgtype: 'm.text',
      body: '* new',
      format: 'org.matrix.custom.html',
      formatted_body: '* <p><em>new</em></p>',
      'm.mentions': { user_ids: [] },
      'm.new_content': {
        msgtype: 'm.text',
        body: 'new',
        format: 'org.matrix.custom.html',
        formatted_body: '<p><em>new</em></p>',
        'm.mentions': { user_ids: [] },
      },
      'm.relates_to': { rel_type: 'm.replace', event_id: TARGET_ID },
    });
  });

  it('sends reactions as m.annotation and has no event for delete/unreact (they are redactions)', () => {
    expect(outboundEventFor({ type: 'react', target: { platformEventId: TARGET_ID }, key: '🎉' }, ctx)).toEqual({
      type: 'm.reaction',
      content: { 'm.relates_to': { rel_type: 'm.annotation', event_id: TARGET_ID, key: '🎉' } },
    });
    expect(outboundEventFor({ type: 'delete', target: { platformEventId: TARGET_ID } }, ctx)).toBeUndefined();
    expect(outboundEventFor({ type: 'unreact', reaction: { platformEventId: TARGET_ID } }, ctx)).toBeUndefined();
  });

  it('posts media of this homeserver as media, and links any other attachment without fetching it', () => {
    const local = messageContentFor(
      {
        kind: 'text',
        text: '',
        attachments: [
          {
            url: 'http://127.0.0.1:8008/_matrix/client/v1/media/download/hs.test/abc',
            contentType: 'image/png',
            filename: 'a.png',
            size: 3,
          },
        ],
      },
      ctx,
    );
    expect(local).toEqual({
      msgtype: 'm.image',
      body: 'a.png',
      url: 'mxc://hs.test/abc',
      info: { mimetype: 'image/png', size: 3 },
      'm.mentions': { user_ids: [] },
    });
    const remote = messageContentFor(
      {
        kind: 'text',
        text: 'see',
        attachments: [{ url: 'https://hub.example/f/1', contentType: 'application/pdf', filename: 'r.pdf' }],
      },
      ctx,
    );
    expect(remote).toMatchObject({
      msgtype: 'm.text',
      body: 'see\nr.pdf',
      formatted_body: '<p>see</p>\n<p><a href="https://hub.example/f/1">r.pdf</a></p>',
    });
  });

  it('strips fallbacks: helper', () => {
    expect(stripReplyFallback('> a\n> b\n\nc')).toBe('c');
    expect(stripReplyFallback('> a')).toBe('');
    expect(stripReplyFallback('c')).toBe('c');
  });
});
