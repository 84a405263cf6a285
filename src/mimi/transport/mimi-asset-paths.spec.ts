import { assetPath, assetUrl, parseAssetUrl } from './mimi-asset-paths';

const REF = { roomUri: 'mimi://a.example/r/lobby', minter: 'b.example', assetId: 'A'.repeat(43) };

describe('asset URLs', () => {
  it('round-trip through parseAssetUrl, whatever the base', () => {
    const url = assetUrl('https://127.0.0.1:8443/mimi/', REF);
    expect(url).toBe(
      `https://127.0.0.1:8443/mimi/mimiAsset/mimi%3A%2F%2Fa.example%2Fr%2Flobby/b.example/${REF.assetId}`,
    );
    expect(parseAssetUrl(url)).toEqual(REF);
    expect(parseAssetUrl(`https://elsewhere.example/${assetPath(REF)}`)).toEqual(REF);
  });

  it('are not found in other URLs', () => {
    const good = assetUrl('https://a.example', REF);
    for (const url of [
      'not a url',
      good.replace('https:', 'http:'),
      `${good}?x=1`,
      `${good}#f`,
      good.replace('/mimiAsset/', '/other/'),
      good.replace('b.example', 'b_example!'),
      good.replace(REF.assetId, 'short'),
      good.replace(REF.assetId, `${REF.assetId}/x`),
      good.replace('mimi%3A%2F%2Fa.example%2Fr%2Flobby', 'lobby'),
      'https://a.example/_matrix/client/v1/media/download/hs/abc',
    ]) {
      expect(parseAssetUrl(url)).toBeUndefined();
    }
  });
});
