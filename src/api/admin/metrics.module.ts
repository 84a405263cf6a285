import { Global, Module } from '@nestjs/common';
import { MetricsRegistry } from '../../common/metrics';

/** One MetricsRegistry for the whole process; every module may register series in it. */
@Global()
@Module({ providers: [MetricsRegistry], exports: [MetricsRegistry] })
export class MetricsModule {}
