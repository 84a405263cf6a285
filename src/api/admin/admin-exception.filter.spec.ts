import { BadRequestException, HttpException, HttpStatus, PayloadTooLargeException } from '@nestjs/common';
import type { ArgumentsHost } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../../common/errors';
import { AdminExceptionFilter } from './admin-exception.filter';

/** What the filter wrote: status and JSON body. */
function answer(exception: unknown): { status: number; body: unknown } {
  const written: { status: number; body: unknown } = { status: 0, body: undefined };
  const res = {
    headersSent: false,
    status(code: number) {
      written.status = code;
      return this;
    },
    json(body: unknown) {
      written.body = body;
      return this;
    },
    setHeader: () => undefined,
  };
  const host = {
    switchToHttp: () => ({ getResponse: () => res, getRequest: () => ({ method: 'POST', originalUrl: '/x' }) }),
  } as unknown as ArgumentsHost;
  new AdminExceptionFilter().catch(exception, host);
  return written;
}

describe(AdminExceptionFilter.name, () => {
  it.each([
    ['a body the JSON parser refused (T31)', new BadRequestException('Unexpected token N'), 400, ErrorCode.BadValue],
    ['a body over the limit (T31)', new PayloadTooLargeException('too large'), 413, ErrorCode.PayloadTooLarge],
    ['a GatewayError', new GatewayError(ErrorCode.Forbidden, 'no'), 403, ErrorCode.Forbidden],
  ])('answers %s with its status and our code', (_what, exception, status, errcode) => {
    expect(answer(exception)).toEqual({ status, body: { errcode, error: exception.message } });
  });

  it('hides the detail of an unexpected error', () => {
    expect(answer(new Error('secret detail'))).toEqual({
      status: 500,
      body: { errcode: ErrorCode.Internal, error: 'Internal server error' },
    });
  });

  it('keeps a health check’s 503 and its report', () => {
    const report = { status: 'failing', checks: { database: 'failing: locked' } };
    expect(answer(new HttpException(report, HttpStatus.SERVICE_UNAVAILABLE))).toEqual({ status: 503, body: report });
  });
});
