import {
  ClassProvider,
  DynamicModule,
  type Type,
  ExistingProvider,
  FactoryProvider,
  Module,
  ModuleMetadata,
  Provider,
  ValueProvider,
} from '@nestjs/common';
import { DELIVERY_TARGET, DeliveryTarget } from '../ports/delivery-target.port';
import { OutboxBacklogMetrics } from './outbox-backlog-metrics';
import { OutboxMetrics } from './outbox-metrics';
import { OutboxNotifier } from './outbox-notifier';
import { OutboxService } from './outbox.service';
import { OUTBOX_WORKER_OPTIONS, OutboxWorker, OutboxWorkerOptions } from './outbox.worker';
import { RETENTION_OPTIONS, RetentionOptions, RetentionService } from './retention.service';

/** How the composition root supplies the DeliveryTarget (the MIMI peer client). */
type DeliveryTargetProvider =
  | Omit<ClassProvider<DeliveryTarget>, 'provide'>
  | Omit<ExistingProvider<DeliveryTarget>, 'provide'>
  | Omit<FactoryProvider<DeliveryTarget>, 'provide'>
  | Omit<ValueProvider<DeliveryTarget>, 'provide'>;

export interface ReplicationModuleOptions {
  /** Modules the delivery target provider needs (e.g. the MIMI module exporting the peer client). */
  readonly imports?: ModuleMetadata['imports'];
  /**
   * What DELIVERY_TARGET is: a class the imports provide (the composition root passes
   * MimiPeerClient, bound with `useExisting`), or a provider (tests pass `{ useValue }`).
   */
  readonly deliveryTarget: Type<DeliveryTarget> | DeliveryTargetProvider;
  readonly worker?: OutboxWorkerOptions;
  readonly retention?: RetentionOptions;
}

/**
 * The outbox and its delivery workers. Needs the global PersistenceModule and ConfigModule.
 * app.module.ts wires the DeliveryTarget:
 * `ReplicationModule.forRoot({ imports: [MimiTransportModule], deliveryTarget: MimiPeerClient })`.
 */
@Module({})
export class ReplicationModule {
  static forRoot(options: ReplicationModuleOptions): DynamicModule {
    return {
      module: ReplicationModule,
      imports: options.imports ?? [],
      providers: [
        deliveryTargetBinding(options.deliveryTarget),
        { provide: OUTBOX_WORKER_OPTIONS, useValue: options.worker ?? {} },
        { provide: RETENTION_OPTIONS, useValue: options.retention ?? {} },
        OutboxNotifier,
        OutboxMetrics,
        OutboxBacklogMetrics,
        OutboxService,
        OutboxWorker,
        RetentionService,
      ],
      exports: [OutboxService, OutboxMetrics, OutboxBacklogMetrics, OutboxWorker, RetentionService],
    };
  }
}

/** The DELIVERY_TARGET provider: `useExisting` for a class, else the provider as given. */
function deliveryTargetBinding(target: Type<DeliveryTarget> | DeliveryTargetProvider): Provider {
  if (typeof target === 'function') return { provide: DELIVERY_TARGET, useExisting: target };
  return { provide: DELIVERY_TARGET, ...target } as Provider;
}
