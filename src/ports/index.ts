export * from './delivery-target.port';
export * from './platform-bridge.port';
export * from './bridge-host.port';
