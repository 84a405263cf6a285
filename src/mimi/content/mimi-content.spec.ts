import fc from 'fast-check';
import { CodecError, ValidationError } from '../../common/errors';
import {
  ATTACHMENT_MESSAGE_ID,
  CONTENT_VECTORS,
  IMPLIED_ORIGINAL_STALE_MESSAGE_ID,
  ORIGINAL_MESSAGE_ID,
  ORIGINAL_MESSAGE_ID_07,
  REACTION_MESSAGE_ID,
  readVector,
  REPLY_MESSAGE_ID,
  ROOM_URI_ENGINEERING,
  SENDER_ALICE,
  SENDER_BOB,
} from '../../../test/fixtures/mimi-content-08/vectors';
import { CborFloat, CborMap, CborTag, CborValue, decodeCbor, encodeCbor } from './cbor';
import { fromHex, toHex } from './hex';
import {
  Cardinality,
  decodeMimiContent,
  Disposition,
  dispositionName,
  effectiveDisposition,
  encodeMimiContent,
  encodeMimiContentWithId,
  ExternalPart,
  listParts,
  messageId,
  MessageIdRule,
  MimiContent,
  MultiPart,
  NestedPart,
  PartSemantics,
  resolveCidUri,
  SinglePart,
} from './mimi-content';

const MUTABLE_EXAMPLE = 'original';
const EXTENSION_INDEX = 5;
const BODY_INDEX = 6;

function expectError(fn: () => unknown, type: typeof CodecError | typeof ValidationError, pattern: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(type);
  expect((thrown as Error).message).toMatch(pattern);
}

/** The Original example as a generic CBOR array, to mutate one field at a time. */
function originalAsCbor(): CborValue[] {
  return [...(decodeCbor(readVector(MUTABLE_EXAMPLE)).value as CborValue[])];
}

function withField(index: number, value: CborValue): Uint8Array {
  const top = originalAsCbor();
  top[index] = value;
  return encodeCbor(top);
}

function withBody(body: CborValue): Uint8Array {
  return withField(BODY_INDEX, body);
}

function withExtensions(entries: [CborValue, CborValue][]): Uint8Array {
  return withField(EXTENSION_INDEX, new CborMap(entries));
}

/** Replace the first occurrence of `find` (hex) in `bytes` by `replace` (hex). */
function patchHex(bytes: Uint8Array, find: string, replace: string): Uint8Array {
  const hex = toHex(bytes);
  const at = hex.indexOf(find);
  if (at < 0 || at % 2 !== 0) throw new Error(`fixture does not contain ${find}`);
  return fromHex(hex.slice(0, at) + replace + hex.slice(at + find.length));
}

const single = (contentType = 'text/plain', content = 'x'): CborValue => [
  1,
  '',
  1,
  contentType,
  fromHex(toHex(Buffer.from(content))),
];
const multi = (parts: CborValue[], semantics = 2): CborValue => [1, '', 3, semantics, parts];

/** A body whose NestedParts are nested `levels` deep (the root is level 1). */
function nestedBody(levels: number): CborValue {
  let part: CborValue = single();
  for (let i = 1; i < levels; i++) part = multi([part, single()]);
  return part;
}

describe('decodeMimiContent on the draft -08 examples', () => {
  it.each(CONTENT_VECTORS.map((v) => [v.name, v] as const))('%s decodes and re-encodes to identical bytes', (_n, v) => {
    const bytes = readVector(v.name);
    expect(bytes.length).toBe(v.length);
    const msg = decodeMimiContent(bytes);
    expect(toHex(encodeMimiContent(msg))).toBe(toHex(bytes));
  });

  it('decodes the Original message field by field (§5.1)', () => {
    const msg = decodeMimiContent(readVector('original'));
    expect(toHex(msg.salt)).toBe('5eed9406c2545547ab6f09f20a18b003');
    expect(msg).toMatchObject({ replaces: null, expires: null, inReplyTo: null });
    expect(msg.topicId).toHaveLength(0);
    expect([...msg.extensions]).toEqual([
      [1, SENDER_ALICE],
      [2, ROOM_URI_ENGINEERING],
    ]);
    const body = msg.nestedPart as SinglePart;
    expect(body).toMatchObject({
      disposition: Disposition.Render,
      language: '',
      cardinality: Cardinality.Single,
      contentType: 'text/markdown;variant=GFM-MIMI',
    });
    expect(Buffer.from(body.content).toString('utf8')).toBe(
      'Hi everyone, we just shipped release 2.0. __Good  work__!',
    );
  });

  it('reads the references between examples as -08 message IDs (errata 1: not the stale -07 ID)', () => {
    const ref = (name: string, field: 'replaces' | 'inReplyTo'): string | null => {
      const id = decodeMimiContent(readVector(name))[field];
      return id && toHex(id);
    };
    expect(ref('reply', 'inReplyTo')).toBe(ORIGINAL_MESSAGE_ID);
    expect(ref('reply', 'inReplyTo')).not.toBe(ORIGINAL_MESSAGE_ID_07);
    expect(ref('reaction', 'inReplyTo')).toBe(ORIGINAL_MESSAGE_ID);
    expect(ref('edit', 'replaces')).toBe(REPLY_MESSAGE_ID);
    expect(ref('edit', 'inReplyTo')).toBe(ORIGINAL_MESSAGE_ID);
    expect(ref('delete', 'replaces')).toBe(REPLY_MESSAGE_ID);
    expect(ref('unlike', 'replaces')).toBe(REACTION_MESSAGE_ID);
    expect(ref('unlike', 'inReplyTo')).toBe(ORIGINAL_MESSAGE_ID);
  });

  it('carries U+2764 in the Reaction body (errata 4: the text says U+2665)', () => {
    const body = decodeMimiContent(readVector('reaction')).nestedPart as SinglePart;
    expect(body.disposition).toBe(Disposition.Reaction);
    expect(toHex(body.content)).toBe('e29da4');
  });

  it('decodes delete and unlike as NullParts with dispositions render and reaction', () => {
    expect(decodeMimiContent(readVector('delete')).nestedPart).toEqual({
      disposition: Disposition.Render,
      language: '',
      cardinality: Cardinality.NullPart,
    });
    expect(decodeMimiContent(readVector('unlike')).nestedPart).toEqual({
      disposition: Disposition.Reaction,
      language: '',
      cardinality: Cardinality.NullPart,
    });
  });

  it('decodes the absolute expiry of the Expiring example (§5.8)', () => {
    expect(decodeMimiContent(readVector('expiring')).expires).toEqual({ relative: false, time: 1644390004 });
  });

  it('decodes every ExternalPart field of the Attachment example (§5.9)', () => {
    const part = decodeMimiContent(readVector('attachment')).nestedPart as ExternalPart;
    expect(part).toEqual({
      disposition: Disposition.Attachment,
      language: 'en',
      cardinality: Cardinality.External,
      contentType: 'video/mp4',
      url: 'https://example.com/storage/8ksB4bSrrRE.mp4',
      expires: 0,
      size: 708234961n,
      encAlg: 1,
      key: fromHex('21399320958a6f4c745dde670d95e0d8'),
      nonce: fromHex('c86cf2c33f21527d1dd76f5b'),
      aad: new Uint8Array(0),
      hashAlg: 1,
      contentHash: fromHex('9ab17a8cf0890baaae7ee016c7312fcc080ba46498389458ee44f0276e783163'),
      description: '2 hours of key signing video',
      filename: 'bigfile.mp4',
    });
  });

  it('decodes the Conferencing example: session disposition and a topicId (§5.10)', () => {
    const msg = decodeMimiContent(readVector('conferencing'));
    expect(Buffer.from(msg.topicId).toString('utf8')).toBe('Foo 118');
    expect(msg.nestedPart).toMatchObject({ disposition: Disposition.Session, url: 'https://example.com/join/12345' });
  });

  it('numbers the parts of multipart-3 as the table in Appendix B.3 does', () => {
    const parts = listParts(decodeMimiContent(readVector('multipart-3')).nestedPart);
    const describe = parts.map(({ partIndex, depth, part }) => [
      partIndex,
      depth,
      part.cardinality === Cardinality.Multi ? PartSemantics[part.partSemantics] : (part as SinglePart).contentType,
      part.language,
    ]);
    expect(describe).toEqual([
      [0, 1, 'ChooseOne', ''],
      [1, 2, 'ProcessAll', ''],
      [2, 3, 'ChooseOne', ''],
      [3, 4, 'text/html;charset=utf-8', 'en'],
      [4, 4, 'text/html;charset=utf-8', 'fr'],
      [5, 3, 'image/gif', ''],
      [6, 2, 'ProcessAll', ''],
      [7, 3, 'ChooseOne', ''],
      [8, 4, 'text/html;charset=utf-8', 'en'],
      [9, 4, 'text/html;charset=utf-8', 'fr'],
      [10, 3, 'image/png', ''],
    ]);
  });

  it('decodes multipart-2 as a processAll MultiPart of three reactions (Appendix B.2)', () => {
    const body = decodeMimiContent(readVector('multipart-2')).nestedPart as MultiPart;
    expect(body.partSemantics).toBe(PartSemantics.ProcessAll);
    expect(body.parts.map((p) => toHex((p as SinglePart).content))).toEqual(['e29da4', 'f09fa5b3', 'f09fa49e']);
  });
});

describe('resolveCidUri', () => {
  const root = (): NestedPart => decodeMimiContent(readVector('multipart-3')).nestedPart;

  it('resolves cid:5@local.invalid and cid:10@local.invalid to the GIF and PNG parts (§4.4)', () => {
    expect(resolveCidUri(root(), 'cid:5@local.invalid')).toMatchObject({ contentType: 'image/gif' });
    expect(resolveCidUri(root(), 'cid:10@local.invalid')).toMatchObject({ contentType: 'image/png' });
  });

  it.each(['cid:2@local.invalid', 'cid:11@local.invalid', 'cid:05@local.invalid', 'cid:5@example.com', 'https://x'])(
    'does not resolve %s (MultiPart, out of range or not a MIMI part cid)',
    (uri) => {
      expect(resolveCidUri(root(), uri)).toBeUndefined();
    },
  );
});

describe('dispositions', () => {
  it('treats unknown dispositions as render (§9.1) and keeps registered ones', () => {
    expect(effectiveDisposition(200)).toBe(Disposition.Render);
    expect(effectiveDisposition(9)).toBe(Disposition.Render);
    expect(effectiveDisposition(Disposition.Preview)).toBe(Disposition.Preview);
    expect(effectiveDisposition(Disposition.Unspecified)).toBe(Disposition.Unspecified);
  });

  it('names dispositions as the §8.2.2 registry does', () => {
    expect(dispositionName(2)).toBe('reaction');
    expect(dispositionName(8)).toBe('preview');
    expect(dispositionName(9)).toBe('unknown(9)');
  });
});

describe('messageId', () => {
  it.each(CONTENT_VECTORS.map((v) => [v.name, v] as const))('%s has the -08 message ID the draft states', (_n, v) => {
    expect(toHex(messageId(readVector(v.name), v.senderUri, v.roomUri))).toBe(v.messageId);
  });

  it.each(CONTENT_VECTORS.filter((v) => v.messageId07).map((v) => [v.name, v] as const))(
    '%s has the -07 message ID under the -07 rule (no length prefixes)',
    (_n, v) => {
      const id = messageId(readVector(v.name), v.senderUri, v.roomUri, { rule: MessageIdRule.Draft07 });
      expect(toHex(id)).toBe(v.messageId07);
    },
  );

  it('is bound to the sender and room URIs', () => {
    const bytes = readVector('original');
    expect(toHex(messageId(bytes, SENDER_BOB, ROOM_URI_ENGINEERING))).not.toBe(ORIGINAL_MESSAGE_ID);
    expect(toHex(messageId(bytes, SENDER_ALICE, 'mimi://example.com/r/other'))).not.toBe(ORIGINAL_MESSAGE_ID);
  });

  it('length-prefixes the URIs, so moving characters between sender and room changes the ID (-08 §3.3)', () => {
    const bytes = readVector('original');
    const draft07 = { rule: MessageIdRule.Draft07 };
    expect(toHex(messageId(bytes, 'ab', 'c', draft07))).toBe(toHex(messageId(bytes, 'a', 'bc', draft07)));
    expect(toHex(messageId(bytes, 'ab', 'c'))).not.toBe(toHex(messageId(bytes, 'a', 'bc')));
  });

  it('starts with the sha-256 octet and is 32 bytes', () => {
    const id = messageId(readVector('attachment'), SENDER_BOB, ROOM_URI_ENGINEERING);
    expect(id).toHaveLength(32);
    expect(id[0]).toBe(0x01);
    expect(toHex(id)).toBe(ATTACHMENT_MESSAGE_ID);
  });

  it('rejects a URI longer than 65535 octets (it cannot be length-prefixed)', () => {
    expectError(
      () => messageId(readVector('original'), 'x'.repeat(65536), ROOM_URI_ENGINEERING),
      ValidationError,
      /§3.3: sender URI is longer than 65535 octets/,
    );
  });

  it('rejects bytes that do not start with a 16-byte salt', () => {
    expectError(() => messageId(encodeCbor([1, 2]), SENDER_ALICE, ROOM_URI_ENGINEERING), CodecError, /§3.3/);
  });

  it('is computed over the received bytes, not a re-encoding', () => {
    const nonDeterministic = patchHex(readVector('original'), '85016001', '8518016001');
    const msg = decodeMimiContent(nonDeterministic, { allowNonDeterministic: true });
    expect(toHex(encodeMimiContent(msg))).toBe(toHex(readVector('original')));
    expect(toHex(messageId(nonDeterministic, SENDER_ALICE, ROOM_URI_ENGINEERING))).not.toBe(ORIGINAL_MESSAGE_ID);
  });
});

describe('implied-original.cbor (Appendix A.2)', () => {
  it('is deterministic CBOR still carrying the stale -07 ID of Original (errata 2)', () => {
    const { value, deterministic } = decodeCbor(readVector('implied-original'));
    expect(deterministic).toBe(true);
    const fields = value as CborValue[];
    expect(toHex(fields[0] as Uint8Array)).toBe(IMPLIED_ORIGINAL_STALE_MESSAGE_ID);
    expect(fields[1]).toBe(1644387225019);
    expect(fields[3]).toBe(4);
    expect(fields.slice(5)).toEqual([SENDER_ALICE, ROOM_URI_ENGINEERING]);
  });
});

describe('decodeMimiContent rejects bytes that break §6.1 (mutations of Original)', () => {
  const original = (): Uint8Array => readVector('original');

  it.each<[string, () => Uint8Array, RegExp]>([
    [
      'a non-shortest integer',
      () => patchHex(original(), '85016001', '8518016001'),
      /^§6.1: .*shortest form at offset 99$/,
    ],
    [
      'a non-shortest salt length',
      () => patchHex(original(), '87505eed', '8758105eed'),
      /§6.1: .*shortest form at offset 1$/,
    ],
    [
      'unsorted extension keys',
      () => {
        const hex = toHex(original());
        const sender = '0178206d696d693a2f2f6578616d706c652e636f6d2f752f616c6963652d736d697468';
        const room = '0278256d696d693a2f2f6578616d706c652e636f6d2f722f656e67696e656572696e675f7465616d';
        return fromHex(hex.replace(sender + room, room + sender));
      },
      /§6.1: .*map keys not sorted .* at offset \d+$/,
    ],
    ['a non-shortest map length', () => patchHex(original(), 'a201', 'b80201'), /§6.1: .*head of major type 5/],
  ])('%s', (_name, build, pattern) => {
    expectError(() => decodeMimiContent(build()), CodecError, pattern);
  });

  it.each<[string, () => Uint8Array, RegExp]>([
    [
      'an indefinite-length body array',
      () => fromHex(toHex(original()).replace('85016001', '9f016001') + 'ff'),
      /indefinite-length array is not allowed at offset 98$/,
    ],
    [
      'an indefinite-length content byte string',
      () => fromHex(toHex(patchHex(original(), '5839', '5f5839')) + 'ff'),
      /indefinite-length byte string/,
    ],
    ['truncated input', () => original().subarray(0, original().length - 1), /truncated|cannot fit/],
    [
      'a trailing byte',
      () => fromHex(toHex(original()) + '00'),
      /1 trailing byte\(s\) after the data item at offset 193$/,
    ],
    [
      'a duplicate extension key',
      () => patchHex(original(), '0278256d', '0178256d'),
      /duplicate map key at offset \d+$/,
    ],
    [
      'invalid UTF-8 in the content type',
      () => patchHex(original(), '781e74', '781eff'),
      /not valid UTF-8 at offset 102$/,
    ],
  ])('%s (even when non-deterministic input is allowed)', (_name, build, pattern) => {
    expectError(() => decodeMimiContent(build(), { allowNonDeterministic: true }), CodecError, pattern);
  });

  it('accepts a non-deterministic encoding only when asked to', () => {
    const bytes = patchHex(original(), '85016001', '8518016001');
    expect(decodeMimiContent(bytes, { allowNonDeterministic: true })).toEqual(decodeMimiContent(original()));
  });

  it('rejects a NaN other than 0xf97e00 in an extension under §6.2 even when non-determinism is allowed', () => {
    const bytes = withExtensions([[-1, new CborFloat(1.5)]]);
    const nan = patchHex(bytes, 'f93e00', 'fa7fc00000');
    expectError(() => decodeMimiContent(nan, { allowNonDeterministic: true }), CodecError, /^§6.2: .*0xf97e00/);
  });
});

describe('decodeMimiContent rejects values that break the CDDL (§4, Appendix A.1) or §6.2/§6.3', () => {
  const salt = originalAsCbor()[0] as Uint8Array;

  it.each<[string, () => Uint8Array, RegExp]>([
    [
      'a top level that is not an array',
      () => encodeCbor(new CborMap()),
      /^§4.1: mimiContent must be an array of 7 elements$/,
    ],
    ['6 top-level elements', () => encodeCbor(originalAsCbor().slice(0, 6)), /array of 7 elements, got 6/],
    ['8 top-level elements', () => encodeCbor([...originalAsCbor(), null]), /array of 7 elements, got 8/],
    ['a 15-byte salt', () => withField(0, salt.subarray(1)), /^§4.1: salt must be a 16-byte byte string$/],
    ['a 17-byte salt', () => withField(0, fromHex(toHex(salt) + '00')), /salt must be a 16-byte/],
    ['a text salt', () => withField(0, 'x'.repeat(16)), /salt must be a 16-byte/],
    [
      'a 31-byte replaces',
      () => withField(1, new Uint8Array(31)),
      /§4.1: replaces must be null or a 32-byte MessageId/,
    ],
    ['a text inReplyTo', () => withField(4, 'x'), /§4.1: inReplyTo must be null or a 32-byte MessageId/],
    ['a text topicId', () => withField(2, 'topic'), /§4.1: topicId must be a byte string/],
    ['expires with one element', () => withField(3, [false]), /§4.1: expires must be null or \[relative: bool/],
    ['expires with an integer flag', () => withField(3, [1, 5]), /§4.1: expires/],
    ['expires beyond uint32', () => withField(3, [false, 2 ** 32]), /§4.1: expires/],
    ['extensions that are not a map', () => withField(5, [1, 2]), /§4.3: mimiExtensions must be a map/],
    [
      'a non-text senderUri',
      () => withExtensions([[1, fromHex('00')]]),
      /§4.3: extension senderUri \(1\) must be a text string/,
    ],
    ['a non-text roomUri', () => withExtensions([[2, 7]]), /§4.3: extension roomUri \(2\) must be a text string/],
    [
      'an empty text extension key',
      () => withExtensions([['', 1]]),
      /§6.2: text extension key must be 1..255 octets, got 0/,
    ],
    ['a 256-octet text extension key', () => withExtensions([['é'.repeat(128), 1]]), /1..255 octets, got 256/],
    [
      'an integer key beyond 2^53-1',
      () => withExtensions([[2n ** 53n, 1]]),
      /§6.2: integer extension key 9007199254740992 is outside/,
    ],
    [
      'a byte-string extension key',
      () => withExtensions([[fromHex('01'), 1]]),
      /§6.2: extension keys must be integers or text strings/,
    ],
    [
      'a float key inside an extension',
      () => withExtensions([[-1, new CborMap([[new CborFloat(1.5), 1]])]]),
      /§6.2: map keys inside extension -1 must be/,
    ],
    [
      'an array key inside an extension',
      () => withExtensions([[-1, new CborMap([[[1], 1]])]]),
      /§6.2: map keys inside/,
    ],
    [
      'an integer key beyond 2^53-1 inside an extension',
      () => withExtensions([[-1, new CborMap([[-(2n ** 53n), 1]])]]),
      /§6.2: map keys inside/,
    ],
    [
      'extensions 5 levels deep',
      () => withExtensions([[256, [[[new CborTag(32, [1])]]]]]),
      /§6.3: extension 256\[0\]\[0\]\[0\] nests tags\/maps\/arrays more than 4 levels deep/,
    ],
    [
      'a disposition above 255',
      () => withBody([256, '', 0]),
      /§4.4: nestedPart.disposition must be an unsigned integer <= 255/,
    ],
    ['a negative disposition', () => withBody([-1, '', 0]), /nestedPart.disposition/],
    ['a non-text language', () => withBody([1, 0, 0]), /§4.4: nestedPart.language must be a text string/],
    ['cardinality 4', () => withBody([1, '', 4]), /§4.4: nestedPart.cardinality must be 0 \(nullpart\)/],
    ['a body with only two elements', () => withBody([1, '']), /§4.4: nestedPart must have at least/],
    [
      'a NullPart with a content type',
      () => withBody([1, '', 0, 'text/plain']),
      /cardinality 0 must have 3 elements, got 4/,
    ],
    [
      'a SinglePart without content',
      () => withBody([1, '', 1, 'text/plain']),
      /cardinality 1 must have 5 elements, got 4/,
    ],
    [
      'a SinglePart with text content',
      () => withBody([1, '', 1, 'text/plain', 'hi']),
      /§4.4: nestedPart.content must be a byte string/,
    ],
    [
      'a MultiPart with one part',
      () => withBody(multi([single()])),
      /§4.4: nestedPart.parts must contain at least 2 NestedParts, got 1/,
    ],
    [
      'an unknown partSemantics',
      () => withBody(multi([single(), single()], 3)),
      /^§9.1: nestedPart has an unknown partSemantics value 3$/,
    ],
    [
      'NestedParts 5 levels deep',
      () => withBody(nestedBody(5)),
      /^§6.3\/§9.1: NestedPart nested more than 4 levels deep/,
    ],
    ['NestedParts far too deep for the decoder', () => withBody(nestedBody(9)), /containers nested deeper than 16/],
  ])('%s', (_name, build, pattern) => {
    expectError(() => decodeMimiContent(build()), CodecError, pattern);
  });

  const external = (overrides: Record<number, CborValue>): CborValue => {
    const base = decodeCbor(readVector('attachment')).value as CborValue[];
    const body = [...(base[BODY_INDEX] as CborValue[])];
    for (const [i, v] of Object.entries(overrides)) body[Number(i)] = v;
    return body;
  };

  it.each<[string, CborValue, RegExp]>([
    ['14 elements', (external({}) as CborValue[]).slice(0, 14), /cardinality 2 must have 15 elements, got 14/],
    [
      'expires beyond uint32',
      external({ 5: 2 ** 32 }),
      /§4.5: nestedPart.expires must be an unsigned integer <= 4294967295/,
    ],
    ['a negative size', external({ 6: -1 }), /§4.5: nestedPart.size must be an unsigned integer .size 8/],
    ['encAlg beyond uint16', external({ 7: 65536 }), /§4.5: nestedPart.encAlg must be an unsigned integer <= 65535/],
    ['hashAlg beyond uint8', external({ 11: 256 }), /§4.5: nestedPart.hashAlg must be an unsigned integer <= 255/],
    ['a text key', external({ 8: 'k' }), /§4.5: nestedPart.key must be a byte string/],
    ['a byte-string url', external({ 4: fromHex('00') }), /§4.5: nestedPart.url must be a text string/],
  ])('rejects an ExternalPart with %s', (_name, body, pattern) => {
    expectError(() => decodeMimiContent(withBody(body)), CodecError, pattern);
  });

  it('accepts NestedParts exactly 4 levels deep, extensions exactly 4 levels deep (§6.3 example) and a uint64 size', () => {
    const draftExample: [CborValue, CborValue][] = [
      [1, SENDER_ALICE],
      [
        256,
        [
          [fromHex('1234'), new CborTag(32, 'http://example.com')],
          [fromHex('3456'), 5771],
        ],
      ],
    ];
    expect(() => decodeMimiContent(withExtensions(draftExample))).not.toThrow();
    expect(() => decodeMimiContent(withBody(nestedBody(4)))).not.toThrow();
    const big = decodeMimiContent(withBody(external({ 6: 2n ** 64n - 1n }))).nestedPart as ExternalPart;
    expect(big.size).toBe(2n ** 64n - 1n);
  });

  it('tolerates unknown dispositions, content types and languages (§9.1)', () => {
    const msg = decodeMimiContent(withBody([200, 'tlh-x-klingon', 1, 'application/x-unknown', fromHex('00')]));
    expect(msg.nestedPart).toMatchObject({ disposition: 200, language: 'tlh-x-klingon' });
    expect(effectiveDisposition(msg.nestedPart.disposition)).toBe(Disposition.Render);
  });

  it('keeps text and negative private-use extension keys (§4.3)', () => {
    const msg = decodeMimiContent(
      withExtensions([
        [1, SENDER_ALICE],
        [-7, 'x'],
        ['org.example.tag', [1, 2]],
      ]),
    );
    expect(msg.extensions.get(-7)).toBe('x');
    expect(msg.extensions.get('org.example.tag')).toEqual([1, 2]);
  });
});

describe('encodeMimiContent', () => {
  const original = (): MimiContent => decodeMimiContent(readVector('original'));

  it.each<[string, (m: MimiContent) => MimiContent, RegExp]>([
    ['a 15-byte salt', (m) => ({ ...m, salt: m.salt.subarray(1) }), /§4.1: salt must be a 16-byte/],
    ['a 33-byte inReplyTo', (m) => ({ ...m, inReplyTo: new Uint8Array(33) }), /§4.1: inReplyTo/],
    ['a fractional expiry', (m) => ({ ...m, expires: { relative: true, time: 1.5 } }), /§4.1: expires/],
    ['a float disposition', (m) => ({ ...m, nestedPart: { ...m.nestedPart, disposition: 1.5 } }), /disposition/],
    ['a non-text senderUri', (m) => ({ ...m, extensions: new Map([[1, 5]]) }), /§4.3: extension senderUri/],
    [
      'a float extension value given as a number',
      (m) => ({ ...m, extensions: new Map([[-1, 0.5]]) }),
      /§6.2: extension -1 is not an integer/,
    ],
    [
      'a MultiPart with one part',
      (m) => ({
        ...m,
        nestedPart: {
          disposition: 1,
          language: '',
          cardinality: Cardinality.Multi,
          partSemantics: 0,
          parts: [m.nestedPart],
        },
      }),
      /at least 2 NestedParts/,
    ],
  ])('refuses a model with %s (ValidationError)', (_name, mutate, pattern) => {
    expectError(() => encodeMimiContent(mutate(original())), ValidationError, pattern);
  });

  it('encodes and derives the ID in one step', () => {
    const { bytes, messageId: id } = encodeMimiContentWithId(original(), SENDER_ALICE, ROOM_URI_ENGINEERING);
    expect(toHex(bytes)).toBe(toHex(readVector('original')));
    expect(toHex(id)).toBe(ORIGINAL_MESSAGE_ID);
  });

  it('round-trips arbitrary well-formed messages', () => {
    const bytes = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: n, maxLength: n });
    const leaf: fc.Arbitrary<NestedPart> = fc.oneof(
      fc.record({
        disposition: fc.nat(255),
        language: fc.string(),
        cardinality: fc.constant(Cardinality.NullPart as const),
      }),
      fc.record({
        disposition: fc.nat(255),
        language: fc.string(),
        cardinality: fc.constant(Cardinality.Single as const),
        contentType: fc.string(),
        content: fc.uint8Array({ maxLength: 64 }),
      }),
      fc.record({
        disposition: fc.nat(255),
        language: fc.string(),
        cardinality: fc.constant(Cardinality.External as const),
        contentType: fc.string(),
        url: fc.webUrl(),
        expires: fc.nat({ max: 0xffff_ffff }),
        size: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        encAlg: fc.nat(0xffff),
        key: fc.uint8Array({ maxLength: 32 }),
        nonce: fc.uint8Array({ maxLength: 12 }),
        aad: fc.uint8Array({ maxLength: 8 }),
        hashAlg: fc.nat(255),
        contentHash: fc.uint8Array({ maxLength: 32 }),
        description: fc.string({ unit: 'grapheme' }),
        filename: fc.string(),
      }),
    );
    const part = (depth: number): fc.Arbitrary<NestedPart> =>
      depth >= 4
        ? leaf
        : fc.oneof(
            leaf,
            fc.record({
              disposition: fc.nat(255),
              language: fc.string(),
              cardinality: fc.constant(Cardinality.Multi as const),
              partSemantics: fc.constantFrom(
                PartSemantics.ChooseOne,
                PartSemantics.SingleUnit,
                PartSemantics.ProcessAll,
              ),
              parts: fc.array(part(depth + 1), { minLength: 2, maxLength: 3 }),
            }),
          );
    const message = fc.record({
      salt: bytes(16),
      replaces: fc.option(bytes(32), { nil: null }),
      topicId: fc.uint8Array({ maxLength: 40 }),
      expires: fc.option(fc.record({ relative: fc.boolean(), time: fc.nat({ max: 0xffff_ffff }) }), { nil: null }),
      inReplyTo: fc.option(bytes(32), { nil: null }),
      extensions: fc
        .uniqueArray(
          fc.tuple(
            fc.oneof(fc.maxSafeInteger(), fc.string({ minLength: 1, maxLength: 20 })),
            fc.oneof(fc.string(), fc.integer(), fc.uint8Array(), fc.array(fc.integer(), { maxLength: 3 })),
          ),
          { selector: ([k]) => k, maxLength: 5 },
        )
        .map((entries) => new Map(entries.filter(([k]) => k !== 1 && k !== 2))),
      nestedPart: part(1),
    });
    fc.assert(
      fc.property(message, (msg: MimiContent) => {
        const encoded = encodeMimiContent(msg);
        const decoded = decodeMimiContent(encoded);
        expect(decoded).toEqual(msg);
        expect(toHex(encodeMimiContent(decoded))).toBe(toHex(encoded));
      }),
      { numRuns: 200 },
    );
  });
});
