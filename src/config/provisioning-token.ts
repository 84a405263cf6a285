import { readFileSync } from 'node:fs';
import { ConfigError } from '../common/errors';
import type { GatewayConfig } from './gateway-config';
import { resolveConfigPath } from './load-config';

/** How the provisioning API authenticates, as the config says (issue 14). */
export type ProvisioningAuth =
  | { readonly kind: 'token'; readonly token: string; readonly file?: string }
  /** No `admin.tokenFile`: every provisioning call is refused. */
  | { readonly kind: 'disabled' }
  /** `admin.insecureNoProvisioningToken`: open to anyone who can reach the listener (tests). */
  | { readonly kind: 'open' };

/**
 * Read `admin.tokenFile`. An unreadable file, or one holding nothing but white space, is a config
 * error: it must never mean "no authentication".
 * @throws ConfigError naming `admin.tokenFile`
 */
export function provisioningAuth(config: GatewayConfig): ProvisioningAuth {
  const { tokenFile, insecureNoProvisioningToken } = config.admin;
  if (tokenFile === undefined) return insecureNoProvisioningToken ? { kind: 'open' } : { kind: 'disabled' };
  const file = resolveConfigPath(config, tokenFile);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError([{ keyPath: 'admin.tokenFile', expected: `a readable token file (${file})` }], { cause: e });
  }
  const token = text.trim();
  if (token.length === 0) {
    throw new ConfigError([
      { keyPath: 'admin.tokenFile', expected: `a file holding the provisioning token (${file} is empty)` },
    ]);
  }
  if (/\s/.test(token)) {
    throw new ConfigError([{ keyPath: 'admin.tokenFile', expected: `one token without white space inside (${file})` }]);
  }
  return { kind: 'token', token, file };
}
