import { chmodSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, errorMessage } from '../src/common/errors';
import { loadConfig, sectionOf } from '../src/config/load-config';
import { matrixConfigSection } from '../bridges/matrix/matrix.config';
import { generateAppserviceRegistration, renderRegistrationYaml } from './generate-appservice-registration';
import { loadOrCreateMatrixTokens, tokensPath } from './matrix-tokens';

/** Where the command writes (the same shape as the CLI's own io). */
export interface RegistrationIo {
  out(line: string): void;
  err(line: string): void;
}

export interface GenerateRegistrationOptions {
  /** The gateway config file (already resolved by the caller from -c / $MIMI_GATEWAY_CONFIG / ./config.yaml). */
  readonly configFile: string;
  /** Where to write the registration; stdout when absent. */
  readonly outputFile?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * `mimi-gateway generate-registration [-c FILE] [-o FILE]`: write the Matrix appservice
 * registration for the config's `matrix` section, creating `matrix.tokensFile` on first run.
 * Returns the exit code: 0 done, 1 bad config or unwritable file (one line on stderr each).
 */
export function runGenerateRegistration(opts: GenerateRegistrationOptions, io: RegistrationIo): number {
  try {
    // The matrix section is validated; the other bridges' sections are not this command's business.
    const config = loadConfig(opts.configFile, opts.env ?? process.env, {
      sections: [matrixConfigSection],
      otherSections: 'ignore',
    });
    const matrix = sectionOf(config, matrixConfigSection);
    if (!matrix) {
      throw new ConfigError([{ keyPath: 'matrix', expected: 'a matrix section (see config.sample.yaml)' }]);
    }
    const file = tokensPath(matrix.tokensFile, config.baseDir);
    const { tokens, created } = loadOrCreateMatrixTokens(file);
    io.err(created ? `created appservice tokens: ${file}` : `reusing appservice tokens: ${file}`);
    const yaml = renderRegistrationYaml(generateAppserviceRegistration(matrix, tokens));
    if (opts.outputFile === undefined) {
      io.out(yaml.trimEnd());
    } else {
      const out = resolve(opts.outputFile);
      writeFileSync(out, yaml, { mode: 0o600 });
      chmodSync(out, 0o600);
      io.err(`wrote appservice registration: ${out}`);
    }
    return 0;
  } catch (e) {
    if (e instanceof ConfigError) {
      io.err(`mimi-gateway: invalid config ${opts.configFile}:`);
      for (const p of e.problems) io.err(`  ${p.keyPath}: expected ${p.expected}`);
      return 1;
    }
    io.err(`mimi-gateway: ${errorMessage(e)}`);
    return 1;
  }
}
