/**
 * What the core and the bridges share (STYLE §3): the vocabulary (types only), the required
 * PlatformBridge port, the optional capabilities with their type guards, the BridgeHost the core
 * offers the bridges (with the BridgeStateStore of their durable state), and the DeliveryTarget the outbox sends through.
 */
export * from './vocabulary';
export * from './platform-bridge.port';
export * from './capabilities.port';
export * from './media.port';
export * from './bridge-host.port';
export * from './bridge-state.port';
export * from './delivery-target.port';
export * from './bridge-module.port';
