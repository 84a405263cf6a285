import { DynamicModule, Module, ModuleMetadata } from '@nestjs/common';
import { MimiTransportModule } from '../../mimi/transport';
import { MimiAssetsController } from './mimi-assets.controller';
import { MimiEndpointsController } from './mimi-endpoints.controller';
import { MimiConsentAbuseController } from './mimi-consent-abuse.controller';

/**
 * The MIMI endpoint controllers (and the asset endpoint). `imports` must provide HubService,
 * FollowerService, IdentifierQueries and MediaAssets (the
 * RoomsModule instance of the composition root).
 */
@Module({})
export class MimiEndpointsModule {
  static forRoot(options: { imports: ModuleMetadata['imports'] }): DynamicModule {
    return {
      module: MimiEndpointsModule,
      imports: [MimiTransportModule, ...(options.imports ?? [])],
      controllers: [MimiEndpointsController, MimiAssetsController, MimiConsentAbuseController],
    };
  }
}
