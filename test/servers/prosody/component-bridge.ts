/**
 * An XMPP bridge in component mode (XEP-0114) on a test Prosody, in process: the component
 * connection with quick reconnection (100 ms, at most 1 s) and Prosody's MUC service.
 */
import type { XmppBridgeOptions } from '../../../bridges/xmpp/xmpp-bridge.options';
import { componentTransport } from '../../../bridges/xmpp/session/xmpp-transport';
import { XmppBridge } from '../../../bridges/xmpp/xmpp.bridge';
import { PROSODY_MUC_DOMAIN, type ProsodyServer } from './prosody-server';

export function prosodyComponentBridge(
  prosody: ProsodyServer,
  options: Omit<XmppBridgeOptions, 'mode' | 'transport' | 'mucService'> & { readonly componentDomain: string },
): XmppBridge {
  return new XmppBridge({
    mode: 'component',
    transport: componentTransport(
      { service: prosody.componentService, domain: options.componentDomain, secret: prosody.componentSecret },
      { initialMs: 100, maxMs: 1000 },
    ),
    mucService: PROSODY_MUC_DOMAIN,
    ...options,
  });
}
