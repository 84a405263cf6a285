import { ErrorCode } from '../common/errors';
import { RefusalLog, keyMaterialRefusal } from './key-material-refusal';

const BOB = 'mimi://b.example/u/bob';

describe(keyMaterialRefusal.name, () => {
  it.each([
    ['userUnknown', ErrorCode.NotFound, 'b.example has no such user (userUnknown)'],
    ['userDeleted', ErrorCode.NotFound, 'says the user was deleted'],
    ['noConsent', ErrorCode.Forbidden, 'has not consented to be contacted by us'],
    ['noConsentForThisRoom', ErrorCode.Forbidden, 'has not consented to this room'],
    ['noCompatibleMaterial', ErrorCode.PeerUnavailable, 'no key material compatible with this room'],
    ['somethingNew', ErrorCode.PeerUnavailable, 'b.example answered somethingNew'],
  ])('names the user status %s', (userStatus, code, says) => {
    const r = keyMaterialRefusal(BOB, 'b.example', { kind: 'user', userStatus });
    expect(r.code).toBe(code);
    expect(r.message).toMatch(new RegExp(`^${BOB} cannot be added: b\\.example `));
    expect(r.message).toContain(says);
    expect(r.message).toContain(userStatus);
  });

  it('names the clients’ codes when none gave a KeyPackage', () => {
    expect(
      keyMaterialRefusal(BOB, 'b.example', {
        kind: 'clients',
        clientStatuses: ['keyMaterialExhausted', 'nothingCompatible', 'keyMaterialExhausted'],
      }),
    ).toEqual({
      code: ErrorCode.PeerUnavailable,
      message: `${BOB} cannot be added: b.example gave no usable KeyPackage (clients: keyMaterialExhausted, nothingCompatible)`,
    });
    expect(keyMaterialRefusal(BOB, 'b.example', { kind: 'clients', clientStatuses: [] }).message).toContain(
      'listed no client of the user',
    );
  });

  it('passes on the peer’s HTTP error, from a JSON body or as text, cut short', () => {
    const json = JSON.stringify({ errcode: 'x', code: 'MIMI_FORBIDDEN', message: 'not for you' });
    expect(keyMaterialRefusal(BOB, 'b.example', { kind: 'http', status: 403, body: json })).toEqual({
      code: ErrorCode.Forbidden,
      message: `${BOB} cannot be added: b.example refused the key material request with HTTP 403: MIMI_FORBIDDEN: not for you`,
    });
    const text = keyMaterialRefusal(BOB, 'b.example', { kind: 'http', status: 404, body: 'x'.repeat(500) });
    expect(text.code).toBe(ErrorCode.NotFound);
    expect(text.message).toMatch(/HTTP 404: x{200}$/);
    expect(keyMaterialRefusal(BOB, 'b.example', { kind: 'http', status: 400, body: '' }).message).toMatch(/HTTP 400$/);
  });
});

describe(RefusalLog.name, () => {
  it('keeps the last refusal per room and user until it is read once', () => {
    const log = new RefusalLog();
    const refusal = { code: ErrorCode.NotFound, message: 'no' };
    log.remember('mimi://a/r/1', BOB, { code: ErrorCode.Forbidden, message: 'older' });
    log.remember('mimi://a/r/1', BOB, refusal);
    expect(log.take('mimi://a/r/2', BOB)).toBeUndefined();
    expect(log.take('mimi://a/r/1', BOB)).toEqual(refusal);
    expect(log.take('mimi://a/r/1', BOB)).toBeUndefined();
  });
});
