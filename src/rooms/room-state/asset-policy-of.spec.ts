import { decodeAssetPolicy, encodeAssetPolicy } from '../../mimi/room-state';
import { assetPolicyOf } from './asset-policy-of';

describe('assetPolicyOf', () => {
  it('says what the gateway does: hub proxy downloads only, media.maxBytes for every kind, the allowed types', () => {
    const policy = assetPolicyOf('a.example', 'https://gw.a.example:8443', {
      maxBytes: 10_485_760,
      allowedContentTypes: ['image/png', 'Application/PDF'],
    });
    expect(decodeAssetPolicy(encodeAssetPolicy(policy))).toEqual({
      uploadLocation: 'unspecified',
      uploadDomains: [{ provider: 'a.example', destinations: ['gw.a.example'] }],
      allowedDownloadTypes: ['hubProxy'],
      forbiddenDownloadTypes: ['direct', 'ohttp'],
      defaultDownloadType: 'hubProxy',
      maxImage: 10_485_760n,
      maxAudio: 10_485_760n,
      maxVideo: 10_485_760n,
      maxAttachment: 10_485_760n,
      forbiddenMediaTypes: [],
      permittedMediaTypes: [
        { mediaType: 'image/png', parameters: [] },
        { mediaType: 'application/pdf', parameters: [] },
      ],
    });
  });

  it('sends no permitted list when a `type/*` wildcard is allowed (a MediaType cannot say it)', () => {
    const policy = assetPolicyOf('a.example', 'https://a.example', { maxBytes: 1, allowedContentTypes: ['image/*'] });
    expect(policy.permittedMediaTypes).toBeUndefined();
  });
});
