import { type MatrixConfig, matrixConfigSection } from '../bridges/matrix/matrix.config';
import { type XmppConfig, xmppConfigSection } from '../bridges/xmpp/xmpp.config';
import type { GatewayConfig } from './config/gateway-config';
import * as core from './config/load-config';

/**
 * The whole config file as the composition root reads it: the core's sections (src/config) plus
 * the sections the bridge modules own (bridges/<platform>/<platform>.config.ts). Used by main.ts,
 * the CLI (`config check` reports a bad bridge key by its path, like any other) and tests.
 */

/** The sections besides the core's: one per bridge module listed in app.module.ts. */
const BRIDGE_CONFIG_SECTIONS = [matrixConfigSection, xmppConfigSection] as const;

/** The validated config with the bridges' sections under their keys (absent when the file has none). */
export type AppConfig = GatewayConfig & { readonly matrix?: MatrixConfig; readonly xmpp?: XmppConfig };

/** `loadConfig` of src/config with the bridges' sections. @throws ConfigError naming every bad key path */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): AppConfig {
  return withBridgeSections(core.loadConfig(file, env, { sections: BRIDGE_CONFIG_SECTIONS }));
}

/** `validateConfig` of src/config with the bridges' sections. @throws ConfigError */
export function validateConfig(
  raw: unknown,
  opts: Omit<core.ValidateConfigOptions, 'sections' | 'otherSections'> = {},
): AppConfig {
  return withBridgeSections(core.validateConfig(raw, { ...opts, sections: BRIDGE_CONFIG_SECTIONS }));
}

function withBridgeSections(config: GatewayConfig): AppConfig {
  return Object.assign(config, {
    matrix: core.sectionOf(config, matrixConfigSection),
    xmpp: core.sectionOf(config, xmppConfigSection),
  });
}
