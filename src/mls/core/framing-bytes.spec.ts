/** The direct writers and readers of `framing-bytes.ts` give and take exactly the codecs' bytes. */
import { decodeAll, encodeValue, TlsWriter } from '../../codec/tls-codec';
import {
  applicationContentBytes,
  applicationContentLength,
  privateAadBytes,
  privateMlsMessageBytes,
  putTbsHead,
  readApplicationContent,
  readPrivateMlsMessage,
  readSenderData,
  senderDataBytes,
  tbsHeadLength,
} from './framing-bytes';
import {
  ContentType,
  framedContentCodec,
  mlsMessageCodec,
  privateContentAadCodec,
  privateMessageContentCodec,
  ProposalType,
  ProtocolVersion,
  senderDataAadCodec,
  senderDataCodec,
  SenderType,
  WireFormat,
  wireFormatCodec,
  type FramedContent,
  type PrivateMessage,
} from './structs';

const bytes = (n: number, fill = 0x5a): Uint8Array => new Uint8Array(n).fill(fill);
/** Byte equality without jest's element-by-element diffing of 16 KB arrays. */
const same = (a: Uint8Array, b: Uint8Array): void =>
  expect(Buffer.from(a.buffer, a.byteOffset, a.length).equals(b)).toBe(true);
/** Lengths on both sides of the 1-, 2- and 4-byte `<V>` prefixes. */
const LENGTHS = [0, 1, 63, 64, 16383, 16384];
const EPOCHS = [0n, 1n, 0xffffffffn, 0x100000000n, (1n << 64n) - 1n];

function appContent(groupIdLength: number, epoch: bigint, dataLength: number, adLength: number): FramedContent {
  return {
    groupId: bytes(groupIdLength, 1),
    epoch,
    sender: { senderType: SenderType.member, leafIndex: 0xfffffffe },
    authenticatedData: bytes(adLength, 2),
    contentType: ContentType.application,
    applicationData: bytes(dataLength, 3),
  };
}

/** FramedContentTBS without its GroupContext, by the codecs. */
function codecHead(wireFormat: WireFormat, content: FramedContent): Uint8Array {
  const w = new TlsWriter('FramedContentTBS');
  w.uint16(ProtocolVersion.mls10);
  w.field('wire_format', wireFormatCodec, wireFormat);
  w.field('content', framedContentCodec, content);
  return w.finish();
}

describe('framing-bytes: the same bytes as the codecs', () => {
  it('FramedContentTBS head of application data from a member', () => {
    for (const n of LENGTHS) {
      for (const epoch of EPOCHS) {
        const content = appContent(n, epoch, n, LENGTHS[(n + 1) % LENGTHS.length]!);
        for (const wf of [WireFormat.mls_private_message, WireFormat.mls_public_message]) {
          const length = tbsHeadLength(content)!;
          const out = new Uint8Array(length + 3).fill(0xee);
          expect(putTbsHead(out, 1, wf, content)).toBe(1 + length);
          same(out.subarray(1, 1 + length), codecHead(wf, content));
          expect([out[0], out[length + 1], out[length + 2]]).toEqual([0xee, 0xee, 0xee]);
        }
      }
    }
  });

  it('other contents and senders are left to the codec', () => {
    const app = appContent(4, 1n, 4, 0);
    const proposal: FramedContent = {
      ...app,
      contentType: ContentType.proposal,
      proposal: { proposalType: ProposalType.remove, remove: { removed: 1 } },
    };
    expect(tbsHeadLength(proposal)).toBeUndefined();
    expect(tbsHeadLength({ ...app, sender: { senderType: SenderType.external, senderIndex: 0 } })).toBeUndefined();
    expect(tbsHeadLength({ ...app, epoch: -1n })).toBeUndefined();
    expect(tbsHeadLength({ ...app, sender: { senderType: SenderType.member, leafIndex: 2 ** 32 } })).toBeUndefined();
    expect(() => putTbsHead(new Uint8Array(100), 0, WireFormat.mls_private_message, proposal)).toThrow(TypeError);
  });

  it('PrivateMessageContent of application data, with and without padding; read back', () => {
    const codec = privateMessageContentCodec(ContentType.application);
    for (const n of LENGTHS) {
      const data = bytes(n, 7);
      const signature = bytes(64, 9);
      for (const padding of [0, 5, 31]) {
        const ours = applicationContentBytes(data, signature, padding);
        const theirs = encodeValue(
          { contentType: ContentType.application, applicationData: data, auth: { signature }, paddingLength: padding },
          codec,
        );
        same(ours, theirs);
        expect(ours.length - padding).toBe(applicationContentLength(data, signature));
        const back = readApplicationContent(ours)!;
        same(back.applicationData, data);
        same(back.signature, signature);
      }
    }
  });

  it('readApplicationContent leaves malformed content to the codec', () => {
    const good = applicationContentBytes(bytes(3), bytes(4), 2);
    const nonZeroPadding = good.slice();
    nonZeroPadding[nonZeroPadding.length - 1] = 1;
    expect(readApplicationContent(nonZeroPadding)).toBeUndefined();
    expect(readApplicationContent(good.subarray(0, 6))).toBeUndefined(); // signature cut short
    expect(readApplicationContent(Uint8Array.of(0x40, 0x03, 1, 2, 3, 0))).toBeUndefined(); // non-minimal length
    expect(readApplicationContent(Uint8Array.of(0xc0, 0, 0, 0, 0, 0, 0, 0))).toBeUndefined(); // reserved prefix
    expect(readApplicationContent(new Uint8Array(0))).toBeUndefined();
  });

  it('PrivateContentAAD and SenderDataAAD', () => {
    for (const n of LENGTHS) {
      for (const epoch of EPOCHS) {
        const value = {
          groupId: bytes(n, 1),
          epoch,
          contentType: ContentType.commit,
          authenticatedData: bytes(LENGTHS[(n + 2) % 6]!, 2),
        };
        const { aad, sdAad } = privateAadBytes(value.groupId, epoch, value.contentType, value.authenticatedData)!;
        same(aad, encodeValue(value, privateContentAadCodec));
        same(sdAad, encodeValue(value, senderDataAadCodec));
      }
    }
    expect(privateAadBytes(bytes(1), -1n, ContentType.application, bytes(0))).toBeUndefined();
  });

  it('SenderData, written and read', () => {
    for (const v of [
      { leafIndex: 0, generation: 0, reuseGuard: Uint8Array.of(1, 2, 3, 4) },
      { leafIndex: 0xffffffff, generation: 0x80000001, reuseGuard: Uint8Array.of(255, 0, 255, 0) },
    ]) {
      const ours = senderDataBytes(v)!;
      expect(ours).toEqual(encodeValue(v, senderDataCodec));
      expect(readSenderData(ours)).toEqual(decodeAll(ours, senderDataCodec));
    }
    expect(senderDataBytes({ leafIndex: 2 ** 32, generation: 0, reuseGuard: bytes(4) })).toBeUndefined();
    expect(senderDataBytes({ leafIndex: 0, generation: 0, reuseGuard: bytes(3) })).toBeUndefined();
    expect(readSenderData(new Uint8Array(13))).toBeUndefined();
  });

  it('MLSMessage around a PrivateMessage, written and read', () => {
    for (const n of LENGTHS) {
      for (const epoch of EPOCHS) {
        for (const contentType of [ContentType.application, ContentType.proposal, ContentType.commit]) {
          const pm: PrivateMessage = {
            groupId: bytes(n, 1),
            epoch,
            contentType,
            authenticatedData: bytes(LENGTHS[(n + 1) % 6]!, 2),
            encryptedSenderData: bytes(28, 3),
            ciphertext: bytes(LENGTHS[(n + 3) % 6]!, 4),
          };
          const message = {
            version: ProtocolVersion.mls10,
            wireFormat: WireFormat.mls_private_message,
            privateMessage: pm,
          } as const;
          const ours = privateMlsMessageBytes(pm)!;
          same(ours, encodeValue(message, mlsMessageCodec));
          const back = readPrivateMlsMessage(ours)!;
          const theirs = decodeAll(ours, mlsMessageCodec);
          if (back.wireFormat !== WireFormat.mls_private_message) throw new Error('not a PrivateMessage');
          if (theirs.wireFormat !== WireFormat.mls_private_message) throw new Error('not a PrivateMessage');
          expect(back.version).toBe(theirs.version);
          const [a, b] = [back.privateMessage, theirs.privateMessage];
          expect([a.epoch, a.contentType]).toEqual([b.epoch, b.contentType]);
          for (const k of ['groupId', 'authenticatedData', 'encryptedSenderData', 'ciphertext'] as const) {
            same(a[k], b[k]);
          }
        }
      }
    }
  });

  it('readPrivateMlsMessage leaves other wire formats and malformed messages to the codec', () => {
    const pm: PrivateMessage = {
      groupId: bytes(8),
      epoch: 3n,
      contentType: ContentType.application,
      authenticatedData: bytes(0),
      encryptedSenderData: bytes(28),
      ciphertext: bytes(100),
    };
    const good = privateMlsMessageBytes(pm)!;
    const variant = (at: number, value: number): Uint8Array => {
      const b = good.slice();
      b[at] = value;
      return b;
    };
    expect(readPrivateMlsMessage(good)).toBeDefined();
    expect(readPrivateMlsMessage(variant(3, WireFormat.mls_public_message))).toBeUndefined();
    expect(readPrivateMlsMessage(variant(1, 2))).toBeUndefined(); // version
    expect(readPrivateMlsMessage(variant(4 + 1 + 8 + 8, 4))).toBeUndefined(); // content type
    expect(readPrivateMlsMessage(Uint8Array.of(...good, 0))).toBeUndefined(); // trailing byte
    expect(readPrivateMlsMessage(good.subarray(0, good.length - 1))).toBeUndefined();
    expect(privateMlsMessageBytes({ ...pm, contentType: 9 as ContentType })).toBeUndefined();
  });
});
