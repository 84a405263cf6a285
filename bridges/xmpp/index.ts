/** What other folders may use from the XMPP bridge. */
export { XmppBridge } from './xmpp.bridge';
export type { XmppBridgeOptions } from './xmpp-bridge.options';
export { originIdFor } from './outbound/origin-id';
export { XmppStanzaError } from './session/stanza-error';
export { xmppBridgeModule, createXmppBridge } from './xmpp.module';
export { componentTransport, clientTransport, type XmppTransport } from './session/xmpp-transport';
export { FileStateStore, MemoryStateStore } from './state/bridge-state';
