/**
 * The XMPP bridge builds itself from the `xmpp` section of the config file (`xmppBridgeModule`;
 * the composition root lists it and adds the bridge to PLATFORM_BRIDGES).
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { Platform } from '../../src/common/ids';
import type { BridgeContext, BridgeModule } from '../../src/ports';
import type { NativeUsers } from './muc/mention-directory';
import { XmppBridge } from './xmpp.bridge';
import { clientTransport, componentTransport } from './session/xmpp-transport';
import { type XmppConfig, xmppConfigSection } from './xmpp.config';

/** What createXmppBridge reads: the validated `xmpp` section and the config file's directory. */
interface XmppModuleConfig {
  readonly xmpp?: XmppConfig;
  readonly baseDir?: string;
  readonly nativeUsers?: NativeUsers;
}

function configPath(config: XmppModuleConfig, p: string): string {
  return isAbsolute(p) ? p : resolve(config.baseDir ?? '.', p);
}

/**
 * Build the bridge for `config.xmpp`: the component secret or the relay password comes from
 * `xmpp.secretFile` (trailing white space ignored).
 * @throws Error when the section is missing or the secret file cannot be read
 */
function createXmppBridge(config: XmppModuleConfig): XmppBridge {
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
    nativeUsers: config.nativeUsers,
    httpUpload: x.httpUpload,
    ...(x.userDomains ? { userDomains: x.userDomains } : {}),
    maxStanzaBytes: x.maxStanzaBytes,
    // The state is kept in the core's database; a journal file of earlier versions is imported once.
    journalFile: configPath(config, x.stateFile),
  });
}

/** Native XMPP users are MIMI users of this provider (identity mapping, ARCHITECTURE §4): what mentions name. */
function nativeUsers(gateway: BridgeContext): NativeUsers {
  return {
    userUriOf: (userId) => gateway.identity.userUriOf(Platform.Xmpp, userId),
    userIdOf: (uri) => {
      const parsed = gateway.identity.legacyUserOf(uri);
      return parsed?.platform === Platform.Xmpp && parsed.domain === gateway.providerDomain ? parsed.userId : undefined;
    },
  };
}

export const xmppBridgeModule: BridgeModule<XmppConfig> = {
  config: xmppConfigSection,
  create: (xmpp, gateway) => createXmppBridge({ xmpp, baseDir: gateway.baseDir, nativeUsers: nativeUsers(gateway) }),
};
