import { ValidationError } from '../../common/errors';
import {
  ATTACHMENT_MESSAGE_ID,
  CONFERENCING_MESSAGE_ID,
  DELETE_MESSAGE_ID,
  EDIT_MESSAGE_ID,
  EXPIRING_ACCEPTED_TIMESTAMP_MS,
  EXPIRING_EXPIRES_SECONDS,
  EXPIRING_MESSAGE_ID,
  MULTIPART_2_MESSAGE_ID,
  ORIGINAL_ACCEPTED_TIMESTAMP_MS,
  ORIGINAL_MESSAGE_ID,
  REACTION_MESSAGE_ID,
  readVector,
  REPLY_MESSAGE_ID,
  ROOM_URI_ENGINEERING,
  SENDER_ALICE,
  SENDER_BOB,
  SENDER_CATHY,
  UNLIKE_MESSAGE_ID,
} from '../../../test/fixtures/mimi-content-08/vectors';
import {
  AEAD_AES_128_GCM,
  buildAttachment,
  buildAttachments,
  buildDelete,
  buildEdit,
  buildReaction,
  buildReactions,
  buildReply,
  buildTextMessage,
  buildUnlike,
  HASH_ALG_SHA256,
  MEDIA_TYPE_TEXT_PLAIN,
  MessageEnvelope,
} from './content-builders';
import { getExternalMessageId, getSenderTimestamp, getSubject, senderTimestampFromMillis } from './content-extensions';
import { fromHex, toHex } from './hex';
import {
  Cardinality,
  decodeMimiContent,
  Disposition,
  encodeMimiContentWithId,
  MimiContent,
  MultiPart,
  PartSemantics,
} from './mimi-content';
import { validateMimiContent } from './validate';

/** Salt of each draft example (from the .edn files), so builders can reproduce them byte for byte. */
const SALTS = {
  original: '5eed9406c2545547ab6f09f20a18b003',
  reply: '11a458c73b8dd2cf404db4b378b8fe4d',
  reaction: 'd37bc0e6a8b4f04e9e6382375f587bf6',
  edit: 'b8c2e6d8800ecf45df39be6c45f4c042',
  delete: '0a590d73b2c7761c39168be5ebf7f2e6',
  unlike: 'c5ba86dc9fd272e58ca52ec805b79199',
  expiring: '33be993eb39f418f9295afc2ae160d2d',
  attachment: '18fac6371e4e53f1aeaf8a013155c166',
  conferencing: '678ac6cd54de049c3e9665cd212470fa',
  'multipart-2': '8528dc2d92e4f1944d62042907ab94d0',
} as const;

const REPLY_TEXT = "Right on! _Congratulations_ 'all!";
const EDITED_REPLY_TEXT = "Right on! _Congratulations_ y'all!";
const MATRIX_EVENT_ID = '$143273582443PhrSn:example.org';
const MATRIX_HOMESERVER = 'example.org';
const ORIGIN_SERVER_TS = 1_700_000_000_123;

function envelope(sender: string, example: keyof typeof SALTS): MessageEnvelope {
  return { senderUri: sender, roomUri: ROOM_URI_ENGINEERING, salt: fromHex(SALTS[example]) };
}

/** Encode with the ID and compare with the draft's file and stated ID. */
function expectExample(msg: MimiContent, sender: string, file: string, id: string): void {
  const { bytes, messageId } = encodeMimiContentWithId(msg, sender, ROOM_URI_ENGINEERING);
  expect(toHex(bytes)).toBe(toHex(readVector(file)));
  expect(toHex(messageId)).toBe(id);
}

describe('builders reproduce the draft -08 examples byte for byte', () => {
  it('buildTextMessage: Original (§5.1)', () => {
    const msg = buildTextMessage({
      ...envelope(SENDER_ALICE, 'original'),
      text: 'Hi everyone, we just shipped release 2.0. __Good  work__!',
    });
    expectExample(msg, SENDER_ALICE, 'original', ORIGINAL_MESSAGE_ID);
  });

  it('buildReply: Reply (§5.2)', () => {
    const msg = buildReply({
      ...envelope(SENDER_BOB, 'reply'),
      inReplyTo: fromHex(ORIGINAL_MESSAGE_ID),
      text: REPLY_TEXT,
    });
    expectExample(msg, SENDER_BOB, 'reply', REPLY_MESSAGE_ID);
  });

  it('buildReaction: Reaction (§5.3)', () => {
    const msg = buildReaction({
      ...envelope(SENDER_CATHY, 'reaction'),
      inReplyTo: fromHex(ORIGINAL_MESSAGE_ID),
      reaction: '\u2764',
    });
    expectExample(msg, SENDER_CATHY, 'reaction', REACTION_MESSAGE_ID);
  });

  it('buildEdit: Edit (§5.5) replaces the first version and keeps the reply target', () => {
    const msg = buildEdit({
      ...envelope(SENDER_BOB, 'edit'),
      replaces: fromHex(REPLY_MESSAGE_ID),
      inReplyTo: fromHex(ORIGINAL_MESSAGE_ID),
      text: EDITED_REPLY_TEXT,
    });
    expectExample(msg, SENDER_BOB, 'edit', EDIT_MESSAGE_ID);
  });

  it('buildDelete: Delete (§5.6)', () => {
    const msg = buildDelete({
      ...envelope(SENDER_BOB, 'delete'),
      replaces: fromHex(REPLY_MESSAGE_ID),
      inReplyTo: fromHex(ORIGINAL_MESSAGE_ID),
    });
    expectExample(msg, SENDER_BOB, 'delete', DELETE_MESSAGE_ID);
  });

  it('buildUnlike: Unlike (§5.7)', () => {
    const msg = buildUnlike({
      ...envelope(SENDER_CATHY, 'unlike'),
      replaces: fromHex(REACTION_MESSAGE_ID),
      inReplyTo: fromHex(ORIGINAL_MESSAGE_ID),
    });
    expectExample(msg, SENDER_CATHY, 'unlike', UNLIKE_MESSAGE_ID);
  });

  it('buildTextMessage with expires: Expiring (§5.8)', () => {
    const msg = buildTextMessage({
      ...envelope(SENDER_ALICE, 'expiring'),
      expires: { relative: false, time: EXPIRING_EXPIRES_SECONDS },
      text: "__*VPN GOING DOWN*__ I'm rebooting the VPN in ten minutes unless anyone objects.",
    });
    expectExample(msg, SENDER_ALICE, 'expiring', EXPIRING_MESSAGE_ID);
  });

  it('buildAttachment: Attachment (§5.9)', () => {
    const msg = buildAttachment({
      ...envelope(SENDER_BOB, 'attachment'),
      attachment: {
        contentType: 'video/mp4',
        url: 'https://example.com/storage/8ksB4bSrrRE.mp4',
        size: 708234961,
        encAlg: AEAD_AES_128_GCM,
        key: fromHex('21399320958a6f4c745dde670d95e0d8'),
        nonce: fromHex('c86cf2c33f21527d1dd76f5b'),
        hashAlg: HASH_ALG_SHA256,
        contentHash: fromHex('9ab17a8cf0890baaae7ee016c7312fcc080ba46498389458ee44f0276e783163'),
        description: '2 hours of key signing video',
        filename: 'bigfile.mp4',
        language: 'en',
      },
    });
    expectExample(msg, SENDER_BOB, 'attachment', ATTACHMENT_MESSAGE_ID);
  });

  it('buildAttachment with the session disposition and a topic: Conferencing (§5.10)', () => {
    const msg = buildAttachment({
      ...envelope(SENDER_ALICE, 'conferencing'),
      topicId: new Uint8Array(Buffer.from('Foo 118')),
      attachment: {
        disposition: Disposition.Session,
        contentType: '',
        url: 'https://example.com/join/12345',
        description: 'Join the Foo 118 conference',
      },
    });
    expectExample(msg, SENDER_ALICE, 'conferencing', CONFERENCING_MESSAGE_ID);
  });

  it('buildReactions: Multiple reactions (Appendix B.2)', () => {
    const msg = buildReactions({
      ...envelope(SENDER_ALICE, 'multipart-2'),
      inReplyTo: fromHex(ORIGINAL_MESSAGE_ID),
      reactions: ['\u2764', '\u{1F973}', '\u{1F91E}'],
    });
    // The B.2 example has no inReplyTo (it is a body-only illustration); a real reaction message has one.
    expectExample({ ...msg, inReplyTo: null }, SENDER_ALICE, 'multipart-2', MULTIPART_2_MESSAGE_ID);
  });
});

describe('builders produce valid messages that decode back equal', () => {
  const base: MessageEnvelope = { senderUri: SENDER_ALICE, roomUri: ROOM_URI_ENGINEERING };
  const target = fromHex(ORIGINAL_MESSAGE_ID);
  const cases: [string, () => MimiContent][] = [
    ['text', () => buildTextMessage({ ...base, text: 'hello', contentType: MEDIA_TYPE_TEXT_PLAIN, language: 'en' })],
    ['reply', () => buildReply({ ...base, inReplyTo: target, text: 'hi back' })],
    ['edit', () => buildEdit({ ...base, replaces: target, text: 'fixed' })],
    ['delete', () => buildDelete({ ...base, replaces: target })],
    ['reaction', () => buildReaction({ ...base, inReplyTo: target, reaction: '\u{1F44D}' })],
    ['reactions', () => buildReactions({ ...base, inReplyTo: target, reactions: ['a', 'b'] })],
    ['unlike', () => buildUnlike({ ...base, replaces: target })],
    ['attachment', () => buildAttachment({ ...base, attachment: { contentType: 'image/png', url: 'https://x/y' } })],
    [
      'captioned attachment',
      () =>
        buildAttachment({
          ...base,
          caption: { text: 'look' },
          attachment: {
            contentType: 'image/png',
            url: 'https://x/y',
            disposition: Disposition.Inline,
            size: 2n ** 40n,
          },
        }),
    ],
    [
      'several attachments',
      () =>
        buildAttachments({
          ...base,
          caption: { text: 'both' },
          attachments: [
            { contentType: 'image/png', url: 'https://x/1' },
            { contentType: 'application/pdf', url: 'https://x/2', filename: 'r.pdf' },
          ],
        }),
    ],
  ];

  it.each(cases)('%s', (_name, build) => {
    const msg = build();
    expect(() => validateMimiContent(msg, { now: ORIGINAL_ACCEPTED_TIMESTAMP_MS })).not.toThrow();
    const { bytes } = encodeMimiContentWithId(msg, SENDER_ALICE, ROOM_URI_ENGINEERING);
    expect(decodeMimiContent(bytes)).toEqual(msg);
  });

  it('draws a fresh 16-byte salt for each message by default', () => {
    const a = buildTextMessage({ ...base, text: 'same' });
    const b = buildTextMessage({ ...base, text: 'same' });
    expect(a.salt).toHaveLength(16);
    expect(toHex(a.salt)).not.toBe(toHex(b.salt));
  });

  it('gives a captioned attachment a processAll body [caption, attachment]', () => {
    const msg = buildAttachment({
      ...base,
      caption: { text: 'look' },
      attachment: { contentType: 'image/png', url: 'https://x/y' },
    });
    const body = msg.nestedPart as MultiPart;
    expect(body.partSemantics).toBe(PartSemantics.ProcessAll);
    expect(body.parts.map((p) => p.cardinality)).toEqual([Cardinality.Single, Cardinality.External]);
  });

  it('gives several attachments a processAll body [caption?, attachment…], in order; one stays a bare ExternalPart', () => {
    const files = [
      { contentType: 'image/png', url: 'https://x/1' },
      { contentType: 'image/png', url: 'https://x/2' },
    ];
    const bare = buildAttachments({ ...base, attachments: files }).nestedPart as MultiPart;
    expect(bare.partSemantics).toBe(PartSemantics.ProcessAll);
    expect(bare.parts.map((p) => p.cardinality === Cardinality.External && p.url)).toEqual([
      'https://x/1',
      'https://x/2',
    ]);
    const captioned = buildAttachments({ ...base, caption: { text: 'two' }, attachments: files })
      .nestedPart as MultiPart;
    expect(captioned.parts.map((p) => p.cardinality)).toEqual([
      Cardinality.Single,
      Cardinality.External,
      Cardinality.External,
    ]);
    const salt = new Uint8Array(16).fill(1);
    const one = buildAttachments({ ...base, salt, attachments: [files[0]!] });
    expect(one).toEqual(buildAttachment({ ...base, salt, attachment: files[0]! }));
    expect(one.nestedPart.cardinality).toBe(Cardinality.External);
    expect(() => buildAttachments({ ...base, attachments: [] })).toThrow(/needs an attachment/);
  });

  it('writes the bridge extensions (externalMessageId, senderTimestamp, subject) so they read back', () => {
    const externalMessageId = {
      id: new Uint8Array(Buffer.from(MATRIX_EVENT_ID)),
      scope: { kind: 'domain', domain: MATRIX_HOMESERVER },
    } as const;
    const msg = buildTextMessage({
      ...base,
      text: 'bridged',
      externalMessageId,
      senderTimestamp: senderTimestampFromMillis(ORIGIN_SERVER_TS),
      subject: 'Release',
      extraExtensions: [[-100, 'private']],
    });
    const decoded = decodeMimiContent(encodeMimiContentWithId(msg, SENDER_ALICE, ROOM_URI_ENGINEERING).bytes);
    expect(getExternalMessageId(decoded.extensions)).toEqual(externalMessageId);
    expect(getSenderTimestamp(decoded.extensions)).toEqual({
      seconds: 1_700_000_000,
      fraction: { key: -3, value: 123 },
    });
    expect(getSubject(decoded.extensions)).toBe('Release');
    expect(decoded.extensions.get(-100)).toBe('private');
  });

  it('is valid at the time the draft example was accepted', () => {
    const msg = buildTextMessage({ ...base, text: 'x', expires: { relative: false, time: EXPIRING_EXPIRES_SECONDS } });
    expect(() => validateMimiContent(msg, { now: EXPIRING_ACCEPTED_TIMESTAMP_MS })).not.toThrow();
  });

  it.each<[string, () => unknown, RegExp]>([
    [
      'an extra extension repeating senderUri',
      () => buildTextMessage({ ...base, text: 'x', extraExtensions: [[1, 'a']] }),
      /§4.3: extension key 1 given twice/,
    ],
    [
      'an empty reaction',
      () => buildReaction({ ...base, inReplyTo: target, reaction: '' }),
      /§5.3: a reaction must not be empty/,
    ],
    [
      'a single reaction through buildReactions',
      () => buildReactions({ ...base, inReplyTo: target, reactions: ['a'] }),
      /§B.2/,
    ],
    [
      'a 15-byte salt',
      () => buildTextMessage({ ...base, text: 'x', salt: new Uint8Array(15) }),
      /§4.1: salt must be a 16-byte/,
    ],
    ['a 31-byte replaces', () => buildDelete({ ...base, replaces: new Uint8Array(31) }), /§4.1: replaces/],
    ['an empty subject', () => buildTextMessage({ ...base, text: 'x', subject: '' }), /more-extensions-00 §5/],
  ])('rejects %s', (_name, build, pattern) => {
    expect(build).toThrow(ValidationError);
    expect(build).toThrow(pattern);
  });
});
