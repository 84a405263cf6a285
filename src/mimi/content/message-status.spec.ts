import { CodecError } from '../../common/errors';
import { fromHex, toHex } from './hex';
import { decodeMessageStatusReport, encodeMessageStatusReport, messageStatusName } from './message-status';

/** draft-mahy-mimi-message-status-01 §5, `status.cbor`: content-08's Original and Reply read, Mention unread, Expiring expired. */
const EXAMPLE =
  '84825820017ce54837404c3696e0c747b985cb172716d0ed0a3d249ca63ace7d82a096f402825820015354973c2b65ca937bf1e035ae53a5ab80e947afa43d46920d4202e5cc0b2702825820018d825adf9f6be00dcafc5704c4102f5022e74219d0b603e4ba7622654042af0082582001e59db8173939facc2c8a4a0f0ae8d0c7a11a81239626630c9464a8d6717a0303';

describe('MIMI message status reports', () => {
  it("decodes the draft's example and encodes it back to the same bytes", () => {
    const entries = decodeMessageStatusReport(fromHex(EXAMPLE));
    expect(entries.map((e) => [toHex(e.messageId).slice(0, 8), messageStatusName(e.status)])).toEqual([
      ['017ce548', 'read'],
      ['01535497', 'read'],
      ['018d825a', 'unread'],
      ['01e59db8', 'expired'],
    ]);
    expect(toHex(encodeMessageStatusReport(entries))).toBe(EXAMPLE);
  });

  it('keeps an unknown status value, and refuses a bad message ID, status or shape', () => {
    const id = new Uint8Array(32).fill(1);
    expect(decodeMessageStatusReport(encodeMessageStatusReport([{ messageId: id, status: 200 }]))).toEqual([
      { messageId: id, status: 200 },
    ]);
    expect(messageStatusName(200)).toBe('unknown');
    expect(() => encodeMessageStatusReport([{ messageId: id.slice(1), status: 2 }])).toThrow(CodecError);
    expect(() => encodeMessageStatusReport([{ messageId: id, status: 256 }])).toThrow(CodecError);
    expect(() => decodeMessageStatusReport(fromHex('a0'))).toThrow('not an array');
    expect(() => decodeMessageStatusReport(fromHex('81820102'))).toThrow('messageId is not bytes');
    expect(() => decodeMessageStatusReport(fromHex('8181' + '01'))).toThrow('not a pair');
  });
});
