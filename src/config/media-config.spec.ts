import { isAllowedContentType } from './media-config';

describe('isAllowedContentType', () => {
  const allowed = ['image/*', 'application/pdf'];

  it('matches exact types and type/* entries, ignoring parameters and case', () => {
    expect(isAllowedContentType('image/png', allowed)).toBe(true);
    expect(isAllowedContentType('Image/PNG; charset=binary', allowed)).toBe(true);
    expect(isAllowedContentType('application/pdf', allowed)).toBe(true);
  });

  it('refuses other types and malformed values', () => {
    expect(isAllowedContentType('application/x-msdownload', allowed)).toBe(false);
    expect(isAllowedContentType('text/html', allowed)).toBe(false);
    expect(isAllowedContentType('image', allowed)).toBe(false);
    expect(isAllowedContentType('', allowed)).toBe(false);
    expect(isAllowedContentType('image/*', ['image/png'])).toBe(false);
  });
});
