import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import YAML from 'yaml';
import { NO_SUCH_KEY, validateWithSchema } from '../common/config-schema';
import { ConfigError } from '../common/errors';
import { GatewayConfig } from './gateway-config';

export const CONFIG_ENV = 'MIMI_GATEWAY_CONFIG';

/**
 * A top-level section of the config file that the core does not read and someone else owns: a
 * bridge module's section, named after its platform (bridges/<platform>/<platform>.config.ts). The loader hands
 * it the raw section (after env overrides) and keeps what it returns in `config.sections[key]`.
 */
export interface ConfigSection<T extends object = object> {
  readonly key: string;
  /** @throws ConfigError naming every bad key path, each starting with `key` */
  parse(raw: unknown): T;
}

export interface ValidateConfigOptions {
  /** Directory of the config file (relative paths resolve against it). Default: the working directory. */
  readonly baseDir?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** The sections besides the core's that the file may have (the composition root passes the bridges'). */
  readonly sections?: readonly ConfigSection[];
  /**
   * `reject` (default): a top-level key that is neither the core's nor one of `sections` is an
   * error. `ignore`: leave such keys alone (tools that read only some sections, e.g. the TypeORM
   * CLI or the registration generator).
   */
  readonly otherSections?: 'reject' | 'ignore';
}

/**
 * Load, merge env overrides into, and validate a gateway config. Pure apart from reading the
 * file: reused by main.ts, the CLI, registration/ and tests. Throws ConfigError naming every
 * bad key path and what was expected.
 *
 * Env overrides: `MIMI_GATEWAY__DATABASE__URL=...` sets `database.url` (double underscore
 * separates levels; values are parsed as YAML scalars, so `8443` is a number, `true` a boolean).
 */
export function loadConfig(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
  opts: Pick<ValidateConfigOptions, 'sections' | 'otherSections'> = {},
): GatewayConfig {
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
  return validateConfig(raw ?? {}, { ...opts, baseDir: dirname(resolve(file)), env });
}

/** Validate an already-parsed config object (see loadConfig). */
export function validateConfig(raw: unknown, opts: ValidateConfigOptions = {}): GatewayConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError([{ keyPath: '(root)', expected: 'a YAML mapping' }]);
  }
  const merged = applyEnvOverrides(structuredClone(raw) as Record<string, unknown>, opts.env ?? {});
  const owners = new Map((opts.sections ?? []).map((s) => [s.key, s]));
  const core: Record<string, unknown> = {};
  const owned: [ConfigSection, unknown][] = [];
  for (const [key, value] of Object.entries(merged)) {
    const owner = owners.get(key);
    if (owner === undefined) core[key] = value;
    else owned.push([owner, value]);
  }
  const { value: config, problems: coreProblems } = validateWithSchema(GatewayConfig, core, '');
  // With `ignore`, a top-level key the core does not know belongs to a section nobody asked for.
  const problems =
    opts.otherSections === 'ignore'
      ? coreProblems.filter((p) => p.keyPath.includes('.') || p.expected !== NO_SUCH_KEY)
      : coreProblems;
  const sections: Record<string, object> = {};
  for (const [owner, value] of owned) {
    // An empty section (the key with nothing under it) counts as absent, as it always has.
    if (value === null || value === undefined) continue;
    try {
      sections[owner.key] = owner.parse(value);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      problems.push(...e.problems);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  config.sections = sections;
  config.baseDir = opts.baseDir ?? process.cwd();
  return config;
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

/** The validated `section` of `config`, or undefined when the file has none. */
export function sectionOf<T extends object>(config: GatewayConfig, section: ConfigSection<T>): T | undefined {
  // `sections` is set by validateConfig; a config built some other way (tests) has none.
  return (config.sections as Readonly<Record<string, object>> | undefined)?.[section.key] as T | undefined;
}
