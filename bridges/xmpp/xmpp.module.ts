/**
 * Nest wiring of the XMPP bridge: `XmppModule.forRoot()` provides an XmppBridge built from the
 * `xmpp` section of the GatewayConfig (the composition root adds it to PLATFORM_BRIDGES).
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { type DynamicModule, Module } from '@nestjs/common';
import { GatewayConfig } from '../../src/config/gateway-config';
import { FileStateStore } from './state/bridge-state';
import { XmppBridge } from './xmpp.bridge';
import { clientTransport, componentTransport } from './session/xmpp-transport';

function configPath(config: GatewayConfig, p: string): string {
  return isAbsolute(p) ? p : resolve(config.baseDir ?? '.', p);
}

/**
 * Build the bridge for `config.xmpp`: the component secret or the relay password comes from
 * `xmpp.secretFile` (trailing white space ignored).
 * @throws Error when the section is missing or the secret file cannot be read
 */
export function createXmppBridge(config: GatewayConfig): XmppBridge {
  const x = config.xmpp;
  if (!x) throw new Error('no xmpp section in the configuration');
  if (!x.secretFile) throw new Error('xmpp.secretFile: needed for the component secret or the relay password');
  const secret = readFileSync(configPath(config, x.secretFile), 'utf8').trim();
  const transport =
    x.mode === 'component'
      ? componentTransport({ service: x.service, domain: x.componentDomain!, secret })
      : clientTransport({ service: x.service, jid: x.jid!, password: secret, resource: 'mimi-gateway' });
  return new XmppBridge({
    mode: x.mode,
    transport,
    componentDomain: x.componentDomain,
    botNick: x.botNick,
    links: x.links,
    mucService: x.mucService,
    attachmentHosts: x.attachmentHosts,
    maxStanzaBytes: x.maxStanzaBytes,
    stateStore: new FileStateStore(configPath(config, x.stateFile)),
  });
}

@Module({})
export class XmppModule {
  static forRoot(): DynamicModule {
    return {
      module: XmppModule,
      providers: [{ provide: XmppBridge, useFactory: createXmppBridge, inject: [GatewayConfig] }],
      exports: [XmppBridge],
    };
  }
}
