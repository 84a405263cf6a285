import { unlinkAuthenticatedData, unlinkReasonOf, unlinkedNotice } from './unlink-notice';

describe('unlink notice (the reason in the hub commit authenticated_data)', () => {
  it('round-trips the reason', () => {
    expect(unlinkReasonOf(unlinkAuthenticatedData('unlinked by @alice:synapse.test'))).toBe(
      'unlinked by @alice:synapse.test',
    );
    expect(unlinkReasonOf(unlinkAuthenticatedData(''))).toBe('');
  });

  it('finds no reason in other authenticated data', () => {
    expect(unlinkReasonOf(undefined)).toBeUndefined();
    expect(unlinkReasonOf(new Uint8Array(0))).toBeUndefined();
    expect(unlinkReasonOf(new TextEncoder().encode('hello'))).toBeUndefined();
    expect(unlinkReasonOf(new Uint8Array([0xff, 0xfe]))).toBeUndefined();
  });

  it('names the hub and the reason in the mirror room notice', () => {
    expect(unlinkedNotice('a.example', 'by the operator')).toBe(
      'This room was unlinked at its hub a.example (by the operator). Nothing posted here is delivered any more.',
    );
  });
});
