import { IsInt, IsString, IsUrl, Matches } from 'class-validator';
import { DOMAIN, IntRange, validateConfigSection } from '../../src/common/config-schema';

/**
 * The `matrix:` section of the gateway's config file: the appservice bridge (bridges/matrix/README.md).
 * The core config (src/config) does not know it: the loader hands the raw section to
 * `matrixConfigSection.parse`, which names bad keys by their full path (`matrix.…`), as
 * `mimi-gateway config check` prints them.
 */
export class MatrixConfig {
  @IsUrl({ protocols: ['http', 'https'], require_tld: false, require_protocol: true }, { message: 'an http(s):// URL' })
  homeserverUrl!: string;

  @Matches(DOMAIN, { message: 'the homeserver server_name, e.g. example.org' })
  domain!: string;

  @IntRange(0, 65535, 'a TCP port for the appservice listener')
  appservicePort: number = 9000;

  @IsString({ message: 'a host the homeserver uses to reach the appservice' })
  appserviceHost: string = '127.0.0.1';

  /** Ghost user localparts start with this prefix, portal aliases too. */
  @Matches(/^[a-z0-9._=-]+$/, { message: 'lower-case letters, digits and ._=-' })
  prefix: string = '_mimi_';

  @Matches(/^[a-z0-9._=-]+$/, { message: 'a localpart, e.g. mimibot' })
  botLocalpart: string = 'mimibot';

  /** Where the as_token/hs_token live (created on first run of generate-registration). */
  @IsString({ message: 'a path' })
  tokensFile: string = 'data/matrix-tokens.yaml';

  @IsInt({ message: 'a power level' })
  linkPowerLevel: number = 100;
}

/** The `matrix` section as the config loader takes it (see ConfigSection in src/config/load-config.ts). */
export const matrixConfigSection = {
  key: 'matrix',
  /** @throws ConfigError naming every bad key path under `matrix.` */
  parse(raw: unknown): MatrixConfig {
    return validateConfigSection(MatrixConfig, 'matrix', raw);
  },
} as const;
