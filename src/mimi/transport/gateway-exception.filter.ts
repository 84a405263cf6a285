/**
 * The ONE place that turns errors into HTTP answers (STYLE §5): every response body is
 * `{ errcode, error }`. GatewayErrors use HTTP_STATUS_BY_CODE; Nest/Express HTTP exceptions (an
 * unknown route, a bad percent-encoding) keep their status with the matching MIMI code; a database
 * locked by another connection past its wait is a 503 `GW_DATABASE_BUSY` with Retry-After (the
 * request may be sent again as it was); anything else is a 500 with a generic body, its cause
 * logged and never returned.
 */
import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { isDatabaseBusy } from '../../common/database-busy';
import { ErrorCode, GatewayError, HTTP_STATUS_BY_CODE, errorMessage } from '../../common/errors';

interface ErrorBody {
  readonly errcode: string;
  readonly error: string;
}

export interface HttpErrorAnswer {
  readonly status: number;
  readonly body: ErrorBody;
  /** Whole seconds for a `Retry-After` header (rate limits). */
  readonly retryAfterSeconds?: number;
}

const INTERNAL_MESSAGE = 'Internal server error';
const DATABASE_BUSY_MESSAGE = 'The database is busy; try again later';
const DATABASE_BUSY_RETRY_AFTER_SECONDS = 1;

/** Our code for an HTTP status that Nest or Express chose (4xx only; 5xx are never detailed). */
const CODE_BY_STATUS: Readonly<Record<number, ErrorCode>> = {
  400: ErrorCode.BadValue,
  401: ErrorCode.Unauthenticated,
  403: ErrorCode.Forbidden,
  404: ErrorCode.NotFound,
  409: ErrorCode.Conflict,
  413: ErrorCode.PayloadTooLarge,
  429: ErrorCode.RateLimited,
};

/** Map any thrown value to a status and body (pure; the filter adds logging and writing). */
export function toHttpError(exception: unknown): HttpErrorAnswer {
  const internal = !(exception instanceof GatewayError) || exception.code === ErrorCode.Internal;
  if (internal && isDatabaseBusy(exception)) {
    return {
      status: HTTP_STATUS_BY_CODE[ErrorCode.DatabaseBusy],
      body: { errcode: ErrorCode.DatabaseBusy, error: DATABASE_BUSY_MESSAGE },
      retryAfterSeconds: DATABASE_BUSY_RETRY_AFTER_SECONDS,
    };
  }
  if (exception instanceof GatewayError) {
    return {
      status: HTTP_STATUS_BY_CODE[exception.code],
      body: { errcode: exception.code, error: exception.message },
      ...(exception.retryAfterMs === undefined
        ? {}
        : { retryAfterSeconds: Math.max(1, Math.ceil(exception.retryAfterMs / 1000)) }),
    };
  }
  if (exception instanceof HttpException && exception.getStatus() < 500) {
    const status = exception.getStatus();
    const errcode = CODE_BY_STATUS[status] ?? ErrorCode.BadValue;
    return { status, body: { errcode, error: exception.message } };
  }
  return { status: 500, body: { errcode: ErrorCode.Internal, error: INTERNAL_MESSAGE } };
}

@Catch()
export class GatewayExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger(GatewayExceptionFilter.name);

  catch(exception: unknown, host: ArgumentsHost): void {
    const answer = toHttpError(exception);
    const http = host.switchToHttp();
    const req = http.getRequest<{ method?: string; originalUrl?: string }>();
    const where = `${req.method ?? '?'} ${req.originalUrl ?? '?'}`;
    this.log(exception, answer, where);
    const res = http.getResponse<Response>();
    if (res.headersSent) {
      // Too late for an error body: cut the connection so the peer sees a failure, not a short 2xx.
      res.destroy();
      return;
    }
    if (answer.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(answer.retryAfterSeconds));
    res.status(answer.status).json(answer.body);
  }

  private log(exception: unknown, answer: HttpErrorAnswer, where: string): void {
    if (answer.body.errcode === ErrorCode.DatabaseBusy) {
      this.logger.warn(`${where} -> ${answer.status} ${answer.body.errcode}: ${errorMessage(exception)}`);
    } else if (answer.status < 500) {
      this.logger.debug(`${where} -> ${answer.status} ${answer.body.errcode}: ${answer.body.error}`);
    } else if (exception instanceof GatewayError) {
      this.logger.error(`${where} -> ${answer.status} ${exception.code}: ${exception.message}`, causeStack(exception));
    } else {
      this.logger.error(`${where} -> 500 unexpected error`, causeStack(exception));
    }
  }
}

function causeStack(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = e.cause instanceof Error ? `\ncaused by: ${e.cause.stack ?? e.cause.message}` : '';
  return `${e.stack ?? e.message}${cause}`;
}
