import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { plainToInstance } from 'class-transformer';
import { ValidationError as CvError, validateSync } from 'class-validator';
import YAML from 'yaml';
import { ConfigError } from '../common/errors';
import { GatewayConfig } from './gateway-config';

export const CONFIG_ENV = 'MIMI_GATEWAY_CONFIG';

/**
 * Load, merge env overrides into, and validate a gateway config. Pure apart from reading the
 * file: reused by main.ts, the CLI, registration/ and tests. Throws ConfigError naming every
 * bad key path and what was expected.
 *
 * Env overrides: `MIMI_GATEWAY__DATABASE__URL=...` sets `database.url` (double underscore
 * separates levels; values are parsed as YAML scalars, so `8443` is a number, `true` a boolean).
 */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError([{ keyPath: '(file)', expected: `a readable YAML file at ${file}` }], { cause: e });
  }
  let raw: unknown;
  try {
    raw = YAML.parse(text);
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new ConfigError([{ keyPath: '(file)', expected: `valid YAML (${msg})` }], { cause: e });
  }
  return validateConfig(raw ?? {}, { baseDir: dirname(resolve(file)), env });
}

/** Validate an already-parsed config object (see loadConfig). */
export function validateConfig(raw: unknown, opts: { baseDir?: string; env?: NodeJS.ProcessEnv } = {}): GatewayConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError([{ keyPath: '(root)', expected: 'a YAML mapping' }]);
  }
  const merged = applyEnvOverrides(structuredClone(raw) as Record<string, unknown>, opts.env ?? {});
  const config = plainToInstance(GatewayConfig, merged, { exposeDefaultValues: true });
  const errors = validateSync(config, { whitelist: true, forbidNonWhitelisted: true });
  if (errors.length > 0) {
    throw new ConfigError(errors.flatMap((e) => toKeyPaths(e, '')));
  }
  config.baseDir = opts.baseDir ?? process.cwd();
  return config;
}

function toKeyPaths(e: CvError, prefix: string): { keyPath: string; expected: string }[] {
  const path = prefix ? `${prefix}.${e.property}` : e.property;
  const own = Object.entries(e.constraints ?? {}).map(([rule, message]) => ({
    keyPath: path,
    expected: rule === 'whitelistValidation' ? 'no such key (check the spelling)' : message,
  }));
  const nested = (e.children ?? []).flatMap((c) => toKeyPaths(c, path));
  // A nested object that is missing entirely yields no children: say so.
  if (own.length === 0 && nested.length === 0) return [{ keyPath: path, expected: 'a valid value' }];
  return [...dedupe(own), ...nested];
}

function dedupe(items: { keyPath: string; expected: string }[]): { keyPath: string; expected: string }[] {
  const seen = new Set<string>();
  return items.filter((i) => (seen.has(i.expected) ? false : (seen.add(i.expected), true)));
}

const ENV_PREFIX = 'MIMI_GATEWAY__';

function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || value === undefined) continue;
    const path = name
      .slice(ENV_PREFIX.length)
      .split('__')
      .map((p) => p.toLowerCase().replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()));
    let node: Record<string, unknown> = raw;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      if (typeof next !== 'object' || next === null) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[path[path.length - 1]!] = YAML.parse(value) as unknown;
  }
  return raw;
}

/** Resolve a path from the config against the config file's directory. */
export function resolveConfigPath(config: GatewayConfig, p: string): string {
  return isAbsolute(p) ? p : resolve(config.baseDir, p);
}
