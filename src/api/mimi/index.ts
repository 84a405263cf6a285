/** The MIMI endpoints served by the gateway (protocol-06 §5.2-§5.6). */
export { MimiEndpointsModule } from './mimi-endpoints.module';
