import { HttpException, NotFoundException, PayloadTooLargeException } from '@nestjs/common';
import { QueryFailedError } from 'typeorm';
import { ErrorCode, GatewayError, ValidationError } from '../../common/errors';
import { toHttpError } from './gateway-exception.filter';

const SECRET = 'password=hunter2';

describe('toHttpError', () => {
  it('answers a GatewayError with its code, its status and its message', () => {
    expect(toHttpError(new ValidationError('bad epoch field'))).toEqual({
      status: 400,
      body: { errcode: 'MIMI_BAD_VALUE', error: 'bad epoch field' },
    });
    expect(toHttpError(new GatewayError(ErrorCode.Unauthenticated, 'no client certificate'))).toEqual({
      status: 401,
      body: { errcode: 'MIMI_UNAUTHENTICATED', error: 'no client certificate' },
    });
    expect(toHttpError(new GatewayError(ErrorCode.PayloadTooLarge, 'too big')).status).toBe(413);
  });

  it('gives Nest/Express 4xx exceptions the matching MIMI code', () => {
    expect(toHttpError(new NotFoundException('Cannot POST /nope'))).toEqual({
      status: 404,
      body: { errcode: 'MIMI_NOT_FOUND', error: 'Cannot POST /nope' },
    });
    expect(toHttpError(new PayloadTooLargeException()).body.errcode).toBe('MIMI_PAYLOAD_TOO_LARGE');
    expect(toHttpError(new HttpException('Method Not Allowed', 405))).toEqual({
      status: 405,
      body: { errcode: 'MIMI_BAD_VALUE', error: 'Method Not Allowed' },
    });
  });

  it('answers anything else with a generic 500 that reveals nothing', () => {
    for (const e of [new Error(SECRET), new HttpException(SECRET, 503), SECRET]) {
      const answer = toHttpError(e);
      expect(answer).toEqual({ status: 500, body: { errcode: 'GW_INTERNAL', error: 'Internal server error' } });
      expect(JSON.stringify(answer)).not.toContain('hunter2');
    }
  });

  it('answers a database locked by another connection with a retryable 503 that reveals nothing (T39)', () => {
    const sqliteBusy = Object.assign(new Error(`database is locked ${SECRET}`), { code: 'SQLITE_BUSY' });
    const pgLockTimeout = Object.assign(new Error(`canceling statement due to lock timeout ${SECRET}`), {
      code: '55P03',
    });
    for (const e of [
      new QueryFailedError(`INSERT INTO room_event ${SECRET}`, [], sqliteBusy),
      sqliteBusy,
      new QueryFailedError('UPDATE outbox_entry', [], pgLockTimeout),
      new GatewayError(ErrorCode.Internal, 'storing the message failed', { cause: sqliteBusy }),
    ]) {
      const answer = toHttpError(e);
      expect(answer).toEqual({
        status: 503,
        body: { errcode: 'GW_DATABASE_BUSY', error: 'The database is busy; try again later' },
        retryAfterSeconds: 1,
      });
      expect(JSON.stringify(answer)).not.toContain('hunter2');
    }
    // Other database failures stay a generic 500.
    const constraint = Object.assign(new Error('UNIQUE constraint failed'), { code: 'SQLITE_CONSTRAINT' });
    expect(toHttpError(new QueryFailedError('INSERT', [], constraint)).status).toBe(500);
  });
});
