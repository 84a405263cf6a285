import { CodecError } from '../../common/errors';
import { type AssetPolicy, decodeAssetPolicy, encodeAssetPolicy } from './asset-policy';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const POLICY: AssetPolicy = {
  uploadLocation: 'localProvider',
  uploadDomains: [{ provider: 'a.example', destinations: ['files.a'] }],
  allowedDownloadTypes: ['hubProxy'],
  forbiddenDownloadTypes: ['direct', 'ohttp'],
  defaultDownloadType: 'hubProxy',
  maxImage: 1n,
  maxAudio: 2n,
  maxVideo: 0x1_0000_0000n,
  maxAttachment: 2n ** 64n - 1n,
  forbiddenMediaTypes: [{ mediaType: 'text/html', parameters: [] }],
  permittedMediaTypes: [{ mediaType: 'text/plain', parameters: [['charset', 'UTF-8']] }],
};

describe('asset_policy (room-policy-03 §6.4)', () => {
  it('encodes the draft layout field by field (QUIC varint vector lengths, uint64 sizes)', () => {
    expect(hex(encodeAssetPolicy(POLICY))).toBe(
      [
        '01', // asset_upload_location = localProvider
        '13',
        '09 612e6578616d706c65',
        '08 07 66696c65732e61', // upload_domains: [{a.example, [files.a]}]
        '01 01', // allowed_download_types: [hubProxy]
        '02 00 02', // forbidden_download_types: [direct, ohttp]
        '01', // default_download_type = hubProxy
        '0000000000000001',
        '0000000000000002',
        '0000000100000000',
        'ffffffffffffffff',
        '0b',
        '09 746578742f68746d6c',
        '00', // forbidden_media_types: [text/html]
        '01',
        '1a',
        '0a 746578742f706c61696e',
        '0e',
        '07 63686172736574',
        '05 5554462d38', // permitted: present
      ]
        .join('')
        .replace(/\s/g, ''),
    );
  });

  it('round-trips, and keeps an absent permitted list apart from an empty one', () => {
    expect(decodeAssetPolicy(encodeAssetPolicy(POLICY))).toEqual(POLICY);
    const { permittedMediaTypes: _dropped, ...absent } = POLICY;
    expect(decodeAssetPolicy(encodeAssetPolicy(absent))).toEqual(absent);
    expect(decodeAssetPolicy(encodeAssetPolicy({ ...POLICY, permittedMediaTypes: [] })).permittedMediaTypes).toEqual(
      [],
    );
  });

  it('refuses unknown enum values, a MediaType that is not type/subtype, truncation and trailing bytes', () => {
    const good = encodeAssetPolicy(POLICY);
    const withByte = (at: number, v: number): Uint8Array => Uint8Array.from(good, (b, i) => (i === at ? v : b));
    expect(() => decodeAssetPolicy(withByte(0, 3))).toThrow(CodecError); // AssetUploadLocation 3
    expect(() => decodeAssetPolicy(withByte(23, 3))).toThrow(CodecError); // allowed type 3
    const notAType = encodeAssetPolicy({ ...POLICY, forbiddenMediaTypes: [{ mediaType: 'html', parameters: [] }] });
    expect(() => decodeAssetPolicy(notAType)).toThrow(/type\/subtype/);
    expect(() => decodeAssetPolicy(good.subarray(0, good.length - 1))).toThrow(CodecError);
    expect(() => decodeAssetPolicy(Uint8Array.from([...good, 0]))).toThrow(CodecError);
  });
});
