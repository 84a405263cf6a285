import { redact } from './logging';

const AS_TOKEN = 'as_token_value_never_logged';

describe('redact', () => {
  it('replaces secrets at any depth and keeps the rest', () => {
    const out = JSON.stringify(
      redact({
        as_token: AS_TOKEN,
        nested: { headers: { Authorization: `Bearer ${AS_TOKEN}` }, id: 7 },
        list: [{ handshake: AS_TOKEN }],
      }),
    );
    expect(out).not.toContain(AS_TOKEN);
    expect(out).toContain('"id":7');
    expect(out).toContain('[redacted]');
  });
});
