/**
 * A real `mimi-gateway start` process (bin/mimi-gateway.js, the compiled CLI) whose config has an
 * `xmpp:` section, for end-to-end tests and the XMPP bench. Its MIMI side comes from a
 * GatewayCluster (test/support/e2e-gateways.ts): the cluster already wrote a config for the
 * domain (ports, certificates, peers, admin token); `XmppGatewayProcess.create` copies it with
 * the `xmpp:` section added and never starts the cluster's memory gateway for that domain.
 *
 *   const a = XmppGatewayProcess.create(cluster, 'a.example', { mode: 'component', ... }, secret);
 *   await a.start();                 // resolves once the admin listener answers
 *   await a.kill();                  // SIGKILL; a.start() again on the same database and state
 *
 * Output goes to `<cluster dir>/<domain>/xmpp-gateway.log`. Needs `npx tsc -p tsconfig.build.json`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { GatewayCluster, LOOPBACK } from '../../support/e2e-gateways';
import { CliGatewayProcess } from './cli-gateway-process';

const START_TIMEOUT_MS = 60_000;

/** The `xmpp:` section of the gateway config (bridges/xmpp/xmpp.config.ts XmppConfig), minus the secret file. */
export interface XmppSection {
  readonly mode: 'component' | 'relay';
  readonly service: string;
  readonly componentDomain?: string;
  readonly jid?: string;
  readonly botNick: string;
  readonly links: readonly string[];
  readonly mucService?: string;
  /** XEP-0363 upload service (attachments both ways): ProsodyServer.httpUpload. */
  readonly httpUpload?: { readonly service: string; readonly downloadUrlPrefix: string };
}

/** The gateway process for `domain` with an `xmpp:` section (CliGatewayProcess does the process work). */
export class XmppGatewayProcess extends CliGatewayProcess {
  /**
   * Write `<dir>/xmpp-gateway.yaml`: the cluster's config for `domain` plus `xmpp` (the secret,
   * component secret or relay password, goes to a 0600 file next to it).
   */
  static create(cluster: GatewayCluster, domain: string, xmpp: XmppSection, secret: string): XmppGatewayProcess {
    const dir = join(cluster.dir, domain);
    const base = YAML.parse(readFileSync(join(dir, 'gateway.yaml'), 'utf8')) as {
      admin: { host: string; port: number; tokenFile: string };
    };
    const secretFile = join(dir, 'xmpp-secret');
    writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
    const config = {
      ...base,
      xmpp: { ...xmpp, links: [...xmpp.links], secretFile, stateFile: join(dir, 'xmpp-state.json') },
    };
    const configFile = join(dir, 'xmpp-gateway.yaml');
    writeFileSync(configFile, YAML.stringify(config));
    return new XmppGatewayProcess({
      domain,
      dir,
      configFile,
      adminUrl: `http://${LOOPBACK}:${base.admin.port}`,
      adminToken: readFileSync(base.admin.tokenFile, 'utf8').trim(),
      startTimeoutMs: START_TIMEOUT_MS,
      logName: 'xmpp-gateway.log',
    });
  }
}
