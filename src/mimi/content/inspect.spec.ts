import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ATTACHMENT_MESSAGE_ID,
  EXPIRING_ACCEPTED_TIMESTAMP_MS,
  MULTIPART_3_MESSAGE_ID,
  readVector,
  REPLY_MESSAGE_ID,
  ROOM_URI_ENGINEERING,
  SENDER_BOB,
  vectorPath,
} from '../../../test/fixtures/mimi-content-08/vectors';
import { CborMap, CborValue, decodeCbor, encodeCbor } from './cbor';
import { buildTextMessage } from './content-builders';
import { fromHex, toHex } from './hex';
import { encodeMimiContent, messageId } from './mimi-content';
import { ContentInspectResult, runContentInspect } from './inspect';
import { ONE_YEAR_MS } from './validate';

const OTHER_SENDER = 'mimi://other.example/u/mallory';
const OTHER_ROOM = 'mimi://other.example/r/lobby';
const MATRIX_EVENT_ID = '$abc:example.org';
const ORIGIN_SERVER_TS = 1_700_000_000_123;

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mimi-content-inspect-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function writeTemp(name: string, bytes: Uint8Array): string {
  const file = join(dir, name);
  writeFileSync(file, bytes);
  return file;
}

/** Parsed stdout of a successful run. */
function json(result: ContentInspectResult): Record<string, unknown> {
  expect(result).toMatchObject({ exitCode: 0, stderr: '' });
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

/** A failed run prints exactly one stderr line and nothing on stdout. */
function expectOneLineFailure(result: ContentInspectResult, exitCode: number, pattern: RegExp): void {
  expect(result.exitCode).toBe(exitCode);
  expect(result.stdout).toBe('');
  expect(result.stderr.endsWith('\n')).toBe(true);
  expect(result.stderr.slice(0, -1)).not.toMatch(/\n/);
  expect(result.stderr).toMatch(pattern);
  expect(result.stderr).not.toMatch(/\bat .*\.ts:\d+/);
}

describe('runContentInspect', () => {
  it('prints the Reply example as JSON with its -08 message ID', () => {
    const out = json(runContentInspect({ file: vectorPath('reply') }));
    expect(out).toMatchObject({
      messageId: REPLY_MESSAGE_ID,
      senderUri: SENDER_BOB,
      roomUri: ROOM_URI_ENGINEERING,
      size: 200,
      salt: '11a458c73b8dd2cf404db4b378b8fe4d',
      replaces: null,
      topicId: '',
      expires: null,
      inReplyTo: '017ce54837404c3696e0c747b985cb172716d0ed0a3d249ca63ace7d82a096f4',
      extensions: [
        { key: 1, name: 'senderUri', value: SENDER_BOB },
        { key: 2, name: 'roomUri', value: ROOM_URI_ENGINEERING },
      ],
      nestedPart: {
        partIndex: 0,
        disposition: 1,
        dispositionName: 'render',
        cardinality: 'single',
        contentType: 'text/markdown;variant=GFM-MIMI',
        content: toHex(Buffer.from("Right on! _Congratulations_ 'all!")),
        contentText: "Right on! _Congratulations_ 'all!",
      },
      warnings: [],
    });
  });

  it('prints the part tree of multipart-3 with implied part indices', () => {
    const out = json(runContentInspect({ file: vectorPath('multipart-3') }));
    expect(out.messageId).toBe(MULTIPART_3_MESSAGE_ID);
    const indices: [number, string][] = [];
    const walk = (p: { partIndex: number; cardinality: string; contentType?: string; parts?: unknown[] }): void => {
      indices.push([p.partIndex, p.contentType ?? p.cardinality]);
      for (const child of p.parts ?? []) walk(child as typeof p);
    };
    walk(out.nestedPart as Parameters<typeof walk>[0]);
    expect(indices.map(([i]) => i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(indices[5]).toEqual([5, 'image/gif']);
    expect(indices[10]).toEqual([10, 'image/png']);
    expect(out.nestedPart).toMatchObject({ cardinality: 'multi', partSemantics: 'chooseOne' });
  });

  it('prints ExternalPart fields with bytes as hex', () => {
    const out = json(runContentInspect({ file: vectorPath('attachment') }));
    expect(out.messageId).toBe(ATTACHMENT_MESSAGE_ID);
    expect(out.nestedPart).toMatchObject({
      cardinality: 'external',
      dispositionName: 'attachment',
      size: 708234961,
      key: '21399320958a6f4c745dde670d95e0d8',
      nonce: 'c86cf2c33f21527d1dd76f5b',
      aad: '',
      filename: 'bigfile.mp4',
    });
  });

  it('uses --sender and --room instead of extensions 1 and 2', () => {
    const out = json(runContentInspect({ file: vectorPath('reply'), sender: OTHER_SENDER, room: OTHER_ROOM }));
    expect(out.messageId).toBe(toHex(messageId(readVector('reply'), OTHER_SENDER, OTHER_ROOM)));
    expect(out.messageId).not.toBe(REPLY_MESSAGE_ID);
    expect(out).toMatchObject({ senderUri: OTHER_SENDER, roomUri: OTHER_ROOM });
  });

  it('warns (without failing) about an expiry that is long past at "now"', () => {
    const atSend = json(runContentInspect({ file: vectorPath('expiring'), now: EXPIRING_ACCEPTED_TIMESTAMP_MS }));
    expect(atSend.warnings).toEqual([]);
    const later = json(
      runContentInspect({ file: vectorPath('expiring'), now: EXPIRING_ACCEPTED_TIMESTAMP_MS + 2 * ONE_YEAR_MS }),
    );
    expect(later.warnings).toEqual(['§9.1: absolute expires is more than a year in the past']);
    expect(later.expires).toEqual({ relative: false, time: 1644390004 });
  });

  it('shows generic and bridge extensions in readable form', () => {
    const msg = buildTextMessage({
      senderUri: SENDER_BOB,
      roomUri: ROOM_URI_ENGINEERING,
      text: 'x',
      externalMessageId: {
        id: new Uint8Array(Buffer.from(MATRIX_EVENT_ID)),
        scope: { kind: 'domain', domain: 'example.org' },
      },
      senderTimestamp: { seconds: Math.floor(ORIGIN_SERVER_TS / 1000), fraction: { key: -3, value: 123 } },
      extraExtensions: [['org.example.blob', new CborMap([[fromHex('00'), [1, 'a']]])]],
    });
    const out = json(runContentInspect({ file: writeTemp('bridged.cbor', encodeMimiContent(msg)) }));
    expect(out.extensions).toEqual(
      expect.arrayContaining([
        {
          key: 3,
          name: 'senderTimestamp',
          value: {
            map: [
              [1, 1_700_000_000],
              [-3, 123],
            ],
          },
          decoded: { seconds: 1_700_000_000, fraction: { key: -3, value: 123 } },
        },
        {
          key: 4,
          name: 'externalMessageId',
          value: [{ bytes: toHex(Buffer.from(MATRIX_EVENT_ID)) }, 'example.org'],
          decoded: { id: toHex(Buffer.from(MATRIX_EVENT_ID)), scope: { kind: 'domain', domain: 'example.org' } },
        },
        { key: 'org.example.blob', value: { map: [[{ bytes: '00' }, [1, 'a']]] } },
      ]),
    );
  });

  describe('on bad input prints one stderr line naming the rule', () => {
    const original = (): CborValue[] => [...(decodeCbor(readVector('original')).value as CborValue[])];

    it.each<[string, () => Uint8Array, RegExp]>([
      [
        'non-deterministic encoding',
        () => fromHex(toHex(readVector('original')).replace('85016001', '8518016001')),
        /§6.1: not deterministically encoded: .* at offset 99$/m,
      ],
      ['a truncated file', () => readVector('original').subarray(0, 100), /truncated|cannot fit/],
      ['an empty file', () => new Uint8Array(0), /truncated input: empty at offset 0/],
      [
        'a 15-byte salt',
        () => encodeCbor([(original()[0] as Uint8Array).subarray(1), ...original().slice(1)]),
        /§4.1: salt must be a 16-byte byte string$/m,
      ],
      [
        'a topicId over 4096 octets',
        () => encodeCbor([...original().slice(0, 2), new Uint8Array(4097), ...original().slice(3)]),
        /§9.1: topicId is 4097 octets/,
      ],
      ['a JSON file', () => new Uint8Array(Buffer.from('{"not":"cbor"}\n')), /CBOR RFC 8949/],
    ])('%s', (name, build, pattern) => {
      const file = writeTemp(`${name.replace(/\W+/g, '-')}.cbor`, build());
      const result = runContentInspect({ file });
      expectOneLineFailure(result, 1, pattern);
      expect(result.stderr.startsWith(file)).toBe(true);
    });

    it('a message without senderUri and no --sender', () => {
      const withoutSender = original();
      withoutSender[5] = new CborMap([[2, ROOM_URI_ENGINEERING]]);
      const file = writeTemp('no-sender.cbor', encodeCbor(withoutSender));
      expectOneLineFailure(runContentInspect({ file }), 1, /no senderUri extension \(1\); pass --sender URI/);
      expect(runContentInspect({ file, sender: SENDER_BOB }).exitCode).toBe(0);
    });

    it('a message without roomUri and no --room', () => {
      const withoutRoom = original();
      withoutRoom[5] = new CborMap();
      const file = writeTemp('no-room.cbor', encodeCbor(withoutRoom));
      expectOneLineFailure(
        runContentInspect({ file, sender: SENDER_BOB }),
        1,
        /no roomUri extension \(2\); pass --room URI/,
      );
    });
  });

  it('exits 2 with one line for a missing file or a directory', () => {
    expectOneLineFailure(
      runContentInspect({ file: join(dir, 'missing.cbor') }),
      2,
      /^cannot read .*missing.cbor: ENOENT$/m,
    );
    const sub = join(dir, 'a-directory');
    mkdirSync(sub);
    expectOneLineFailure(runContentInspect({ file: sub }), 2, /cannot read .*a-directory: EISDIR/);
  });
});
