import 'reflect-metadata';
import { INestApplication, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ensureDevTls } from '../registration/dev-ca';
import { adminHostNames } from './api/admin/admin-hosts';
import { AdminModule } from './api/admin/admin.module';
import { HealthCheck } from './api/admin/admin.controller';
import { bridgeHealthChecks } from './api/admin/bridge-health';
import { AppModule, type AppModuleOptions, bridgesFromConfig } from './app.module';
import { errorMessage } from './common/errors';
import { describeAllocator, describeHeapFlags } from './common/allocator';
import { createLogger } from './common/logging';
import { MetricsRegistry } from './common/metrics';
import { GatewayConfig } from './config/gateway-config';
import { resolveConfigPath } from './config/load-config';
import { provisioningAuth } from './config/provisioning-token';
import { buildHttpsOptions, hardenListener } from './mimi/transport';
import { OutboxRepository } from './persistence';
import { RoomsService } from './rooms';
import { RoomOwnership } from './rooms/ownership/room-ownership';

/** A running gateway: the MIMI application (HTTPS, mutual TLS) and the admin listener. */
export interface RunningGateway {
  readonly app: INestApplication;
  readonly admin?: INestApplication;
  /** Where the MIMI endpoints listen (https://host:port). */
  readonly mimiUrl: string;
  readonly adminUrl?: string;
  close(): Promise<void>;
}

/** What `startGateway` plugs into the application besides the configuration (see AppModuleOptions). */
export type StartGatewayOptions = AppModuleOptions;

/**
 * Start the gateway: development certificates (when configured), the Nest application (its
 * persistence module runs the migrations before anything else touches the database; the rooms
 * core starts the bridges), the MIMI listener with mutual TLS, and the admin listener with
 * health, metrics and the provisioning API.
 */
export async function startGateway(config: GatewayConfig, options: StartGatewayOptions = {}): Promise<RunningGateway> {
  const logger = createLogger(config.logging.level, config.logging.json);
  const log = new Logger('Gateway');
  Logger.overrideLogger(logger);

  if (config.tls.devAutoGenerate) {
    const caFile = config.tls.caFiles[0];
    if (caFile === undefined) throw new Error('tls.devAutoGenerate needs tls.caFiles[0] for the development CA');
    const caCertFile = resolveConfigPath(config, caFile);
    await ensureDevTls(
      {
        caCertFile,
        caKeyFile: caCertFile.replace(/\.(crt|pem)$/, '') + '.key',
        certFile: resolveConfigPath(config, config.tls.certFile),
        keyFile: resolveConfigPath(config, config.tls.keyFile),
      },
      config.provider.domain,
      { ipAddresses: ['127.0.0.1', '::1'] },
    );
  }

  // Before anything starts: an empty or unreadable admin.tokenFile is a config error.
  const provisioning = config.admin.enabled ? provisioningAuth(config) : undefined;
  const bridges = options.bridges ?? bridgesFromConfig(config);
  const app = await NestFactory.create(AppModule.forRoot(config, { ...options, bridges }), {
    logger,
    bodyParser: false,
    httpsOptions: buildHttpsOptions(config),
    abortOnError: false,
  });
  app.enableShutdownHooks();
  hardenListener(app.getHttpServer(), config.limits.connections, 'mimi', app.get(MetricsRegistry));
  await app.listen(config.listen.port, config.listen.host);
  const mimiAddress = app.getHttpServer().address() as { port: number };
  const mimiUrl = `https://${config.listen.host}:${mimiAddress.port}`;
  log.log(`MIMI endpoints for ${config.provider.domain} on ${mimiUrl} (mutual TLS)`);

  let admin: INestApplication | undefined;
  let adminUrl: string | undefined;
  if (provisioning !== undefined) {
    const outbox = app.get(OutboxRepository);
    const ownership = app.get(RoomOwnership);
    const checks: HealthCheck[] = [
      { name: 'database', check: async () => void (await outbox.pendingDepthByDestination()) },
      ...bridgeHealthChecks(bridges),
    ];
    try {
      const auth = provisioning;
      if (auth.kind === 'disabled') {
        log.warn('provisioning API off: no admin.tokenFile (`mimi-gateway init` writes one); health and metrics only');
      } else if (auth.kind === 'open') {
        log.warn(
          'INSECURE: admin.insecureNoProvisioningToken is set; anyone who can reach the admin listener can link rooms and read history',
        );
      }
      admin = await NestFactory.create(
        AdminModule.forRoot({
          metrics: app.get(MetricsRegistry),
          checks,
          ingress: () => (!ownership.ingressGated ? 'every' : ownership.holdsIngress() ? 'held' : 'standby'),
          provisioning: {
            rooms: app.get(RoomsService),
            auth,
            hostNames: adminHostNames(config.admin.host, config.admin.allowedHosts),
          },
        }),
        { logger, abortOnError: false },
      );
      hardenListener(admin.getHttpServer(), config.limits.connections, 'admin', app.get(MetricsRegistry));
      await admin.listen(config.admin.port, config.admin.host);
    } catch (e) {
      await admin?.close();
      await app.close();
      throw e;
    }
    const adminAddress = admin.getHttpServer().address() as { port: number };
    adminUrl = `http://${config.admin.host}:${adminAddress.port}`;
    log.log(`admin (health, metrics, provisioning) on ${adminUrl}`);
  }

  return {
    app,
    admin,
    mimiUrl,
    adminUrl,
    close: async () => {
      await admin?.close();
      await app.close();
    },
  };
}

/** `mimi-gateway start`: run until SIGINT/SIGTERM; resolves with the exit code. */
export async function runGateway(config: GatewayConfig): Promise<number> {
  const log = new Logger('Gateway');
  let gateway: RunningGateway;
  try {
    gateway = await startGateway(config);
  } catch (e) {
    log.error(`could not start: ${errorMessage(e)}`);
    return 1;
  }
  log.log(`ready; ${describeAllocator()}; ${describeHeapFlags()}`);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.log(`${signal}: shutting down`);
      gateway.close().then(
        () => resolve(0),
        (e: unknown) => {
          log.error(`shutdown failed: ${errorMessage(e)}`);
          resolve(1);
        },
      );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
