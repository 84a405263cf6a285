/** What other folders may use from the XMPP bridge. */
export { XmppBridge, type XmppBridgeOptions, originIdFor, XmppStanzaError } from './xmpp.bridge';
export { xmppBridgeModule, createXmppBridge } from './xmpp.module';
export { componentTransport, clientTransport, type XmppTransport } from './xmpp-transport';
export { FileStateStore, MemoryStateStore } from './bridge-state';
