import { Logger as NestLogger } from '@nestjs/common';
import type { Logger as TypeOrmLoggerContract } from 'typeorm';
import { errorMessage } from '../common/errors';
import type { GatewayConfig } from '../config/gateway-config';

/**
 * Routes TypeORM's own log calls to a Nest Logger (STYLE §7). TypeORM hands a custom logger
 * every call whatever its `logging` option says, so the filtering by the configured level
 * happens here: SQL text only at `verbose` (wire dumps), schema steps from `debug`. Failed
 * queries are `debug`: the error reaches the caller anyway, and the repository decides whether
 * it matters. Slow queries are `warn`, migration failures `error`.
 */
export class TypeOrmNestLogger implements TypeOrmLoggerContract {
  private readonly logger = new NestLogger('TypeORM');
  private readonly queries: boolean;
  private readonly details: boolean;

  constructor(level: GatewayConfig['logging']['level']) {
    this.queries = level === 'verbose';
    this.details = level === 'verbose' || level === 'debug';
  }

  logQuery(query: string): void {
    if (this.queries) this.logger.verbose(query);
  }

  logQueryError(error: string | Error, query: string): void {
    if (this.details) this.logger.debug(`query failed: ${errorMessage(error)} (${query})`);
  }

  logQuerySlow(time: number, query: string): void {
    this.logger.warn(`slow query (${time} ms): ${query}`);
  }

  logSchemaBuild(message: string): void {
    if (this.details) this.logger.debug(message);
  }

  logMigration(message: string): void {
    // TypeORM reports only migration failures through this channel.
    this.logger.error(message);
  }

  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    if (level === 'warn') this.logger.warn(String(message));
    else if (this.details) this.logger.debug(String(message));
  }
}
