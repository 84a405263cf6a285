import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { Max, Min, IsInt, type ValidationError as CvError, validateSync } from 'class-validator';
import { ConfigError } from './errors';

/**
 * What the core config (src/config) and each bridge's own config section
 * (bridges/<platform>/<platform>.config.ts) share: the validation rules and the way problems are
 * named by key path, so that `config check` reports `matrix.domain` exactly as it reports
 * `listen.port`.
 */

/** One problem of a config file: where (`listen.port`, `peers.0.baseUrl`) and what was expected. */
export interface ConfigProblem {
  readonly keyPath: string;
  readonly expected: string;
}

/** A lower-case DNS domain name. */
export const DOMAIN = /^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$/;

/** An integer in [min, max]; one message for all three rules so errors read cleanly. */
export function IntRange(min: number, max: number, what: string): PropertyDecorator {
  const bounds = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `from ${min} to ${max}`;
  const message = `${what}, ${bounds}`;
  return (target, key) => {
    IsInt({ message })(target, key as string);
    Min(min, { message })(target, key as string);
    Max(max, { message })(target, key as string);
  };
}

/** What a problem says of a key nobody reads. */
export const NO_SUCH_KEY = 'no such key (check the spelling)';

/** class-validator errors as key paths under `prefix` ('' for the root). */
function toKeyPaths(e: CvError, prefix: string): ConfigProblem[] {
  const path = prefix ? `${prefix}.${e.property}` : e.property;
  const own = Object.entries(e.constraints ?? {}).map(([rule, message]) => ({
    keyPath: path,
    expected: rule === 'whitelistValidation' ? NO_SUCH_KEY : message,
  }));
  const nested = (e.children ?? []).flatMap((c) => toKeyPaths(c, path));
  // A nested object that is missing entirely yields no children: say so.
  if (own.length === 0 && nested.length === 0) return [{ keyPath: path, expected: 'a valid value' }];
  return [...dedupe(own), ...nested];
}

function dedupe(items: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return items.filter((i) => (seen.has(i.expected) ? false : (seen.add(i.expected), true)));
}

/** Instantiate `schema` from `raw` with its defaults; every unknown key and broken rule is a problem. */
export function validateWithSchema<T extends object>(
  schema: new () => T,
  raw: object,
  prefix: string,
): { value: T; problems: ConfigProblem[] } {
  const value = plainToInstance(schema, raw, { exposeDefaultValues: true });
  const errors = validateSync(value, { whitelist: true, forbidNonWhitelisted: true });
  return { value, problems: errors.flatMap((e) => toKeyPaths(e, prefix)) };
}

/**
 * Validate one top-level section of the config file (`matrix`, `xmpp`) against its schema.
 * @throws ConfigError naming every bad key path, each starting with `key`
 */
export function validateConfigSection<T extends object>(schema: new () => T, key: string, raw: unknown): T {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError([{ keyPath: key, expected: 'a mapping' }]);
  }
  const { value, problems } = validateWithSchema(schema, raw, key);
  if (problems.length > 0) throw new ConfigError(problems);
  return value;
}
