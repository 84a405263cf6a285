import { isDatabaseBusy } from './database-busy';

const withCode = (code: string): Error => Object.assign(new Error(code), { code });

describe(isDatabaseBusy.name, () => {
  it('recognises SQLite and PostgreSQL lock failures, also wrapped (driverError, cause)', () => {
    for (const code of ['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_LOCKED', '55P03', '40P01', '40001']) {
      expect(isDatabaseBusy(withCode(code))).toBe(true);
    }
    expect(isDatabaseBusy({ driverError: withCode('SQLITE_BUSY') })).toBe(true);
    expect(isDatabaseBusy(new Error('wrapped', { cause: { driverError: withCode('55P03') } }))).toBe(true);
  });

  it('is false for other failures and for non-errors', () => {
    for (const e of [
      withCode('SQLITE_CONSTRAINT'),
      withCode('23505'),
      new Error('x'),
      'SQLITE_BUSY',
      null,
      undefined,
    ]) {
      expect(isDatabaseBusy(e)).toBe(false);
    }
  });

  it('stops following a cycle of causes', () => {
    const a: { cause?: unknown } = {};
    a.cause = { cause: a };
    expect(isDatabaseBusy(a)).toBe(false);
  });
});
