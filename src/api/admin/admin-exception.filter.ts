/**
 * The admin listener's answers to errors (RELIABILITY T31): `{ errcode, error }` like every MIMI
 * answer (GatewayExceptionFilter), for a body the JSON parser refused as for a route's own error,
 * except the health routes' 503s, whose body is the report a load balancer or operator reads.
 */
import { ArgumentsHost, Catch, ExceptionFilter, HttpException } from '@nestjs/common';
import type { Response } from 'express';
import { GatewayExceptionFilter } from '../../mimi/transport';

@Catch()
export class AdminExceptionFilter implements ExceptionFilter {
  private readonly gateway = new GatewayExceptionFilter();

  catch(exception: unknown, host: ArgumentsHost): void {
    if (exception instanceof HttpException && exception.getStatus() >= 500) {
      // /health and /health/ingress: the status and the report, as the controller made them.
      host.switchToHttp().getResponse<Response>().status(exception.getStatus()).json(exception.getResponse());
      return;
    }
    this.gateway.catch(exception, host);
  }
}
