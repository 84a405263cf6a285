export * from './cipher-suite';
export * from './suites';
export * from './labeled';
