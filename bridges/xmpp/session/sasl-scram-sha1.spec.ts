import { ScramSha1Mechanism } from './sasl-scram-sha1';

// RFC 5802 §5 example exchange.
const USER = { username: 'user', password: 'pencil' };
const CLIENT_NONCE = 'fyko+d2lbbFgONRv9qkxdawL';
const SERVER_FIRST = 'r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096';
const CLIENT_FINAL = 'c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=';

describe(ScramSha1Mechanism.name, () => {
  it('produces the RFC 5802 example messages, synchronously', () => {
    const mech = new ScramSha1Mechanism(CLIENT_NONCE);
    expect(mech.response(USER)).toBe(`n,,n=user,r=${CLIENT_NONCE}`);
    mech.challenge(SERVER_FIRST);
    expect(mech.response(USER)).toBe(CLIENT_FINAL);
  });

  it('escapes = and , in the user name and refuses a server nonce that does not extend ours', () => {
    const mech = new ScramSha1Mechanism('abc');
    expect(mech.response({ username: 'a=b,c', password: 'x' })).toBe('n,,n=a=3Db=2Cc,r=abc');
    mech.challenge('r=zzz,s=QSXCR+Q6sek8bf92,i=4096');
    expect(() => mech.response({ username: 'a', password: 'x' })).toThrow(/server-first/);
  });
});
