import { DynamicModule, Inject, Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CLOCK, SystemClock } from '../common/clock';
import { GatewayConfig } from '../config/gateway-config';
import { createDataSource } from './create-data-source';
import { InboundDedupeRepository } from './repositories/inbound-dedupe.repository';
import { OutboxRepository } from './repositories/outbox.repository';
import { runMigrations } from './run-migrations';
import { TransactionRunner } from './transaction-runner';

export interface PersistenceModuleOptions {
  /**
   * Apply pending migrations while the DataSource is created, i.e. before any other provider
   * that needs the database exists (bridges included). Default true. Turn it off only where the
   * schema is managed separately (e.g. a test that migrates itself).
   */
  readonly migrate?: boolean;
}

/** Closes the DataSource last, after workers stopped in their beforeApplicationShutdown hooks. */
@Injectable()
class DataSourceCloser implements OnApplicationShutdown {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

/**
 * The database (SQLite or PostgreSQL, from `database.*` of the GatewayConfig) and the
 * repositories. Global: every feature module may inject the repositories, the
 * TransactionRunner and the CLOCK. The DataSource itself is not exported: only repositories
 * touch TypeORM (STYLE §4).
 */
@Module({})
export class PersistenceModule {
  static forRoot(options: PersistenceModuleOptions = {}): DynamicModule {
    const migrate = options.migrate ?? true;
    return {
      module: PersistenceModule,
      global: true,
      providers: [
        { provide: CLOCK, useClass: SystemClock },
        {
          provide: DataSource,
          inject: [GatewayConfig],
          useFactory: async (config: GatewayConfig): Promise<DataSource> => {
            const dataSource = createDataSource(config);
            await dataSource.initialize();
            if (migrate) await runMigrations(dataSource, new Logger('Migrations'));
            return dataSource;
          },
        },
        DataSourceCloser,
        TransactionRunner,
        OutboxRepository,
        InboundDedupeRepository,
      ],
      exports: [CLOCK, TransactionRunner, OutboxRepository, InboundDedupeRepository],
    };
  }
}
