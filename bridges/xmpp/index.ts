/** What other folders may use from the XMPP bridge. */
export { XmppBridge, type XmppBridgeOptions, originIdFor, XmppStanzaError } from './xmpp.bridge';
export { XmppModule, createXmppBridge } from './xmpp.module';
export { componentTransport, clientTransport, type XmppTransport } from './session/xmpp-transport';
export { FileStateStore, MemoryStateStore } from './state/bridge-state';
