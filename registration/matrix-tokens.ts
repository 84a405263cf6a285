import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import YAML from 'yaml';
import { ConfigError } from '../src/common/errors';

/**
 * The appservice's two secrets (Matrix AS API, "Registration"): `as_token` authenticates the
 * gateway to the homeserver, `hs_token` the homeserver to the gateway. They live in one file
 * (`matrix.tokensFile`), created with random tokens on first use and reused afterwards, so the
 * registration given to the homeserver and the gateway's own copy can never drift apart.
 */
export interface MatrixTokens {
  readonly asToken: string;
  readonly hsToken: string;
}

/** 32 random bytes, URL-safe base64 (43 characters): well beyond guessing, safe in headers and YAML. */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

const TOKEN_RE = /^[A-Za-z0-9._~+/=-]{16,256}$/;

/** Resolve `matrix.tokensFile` against the config file's directory (as every path in the config). */
export function tokensPath(tokensFile: string, baseDir: string): string {
  return isAbsolute(tokensFile) ? tokensFile : resolve(baseDir, tokensFile);
}

/** Read the tokens file. @throws ConfigError when missing or malformed (naming matrix.tokensFile). */
export function readMatrixTokens(file: string): MatrixTokens {
  let raw: unknown;
  try {
    raw = YAML.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(
      [{ keyPath: 'matrix.tokensFile', expected: `a readable tokens file at ${file} (run generate-registration)` }],
      { cause: e },
    );
  }
  const obj = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const asToken = obj['as_token'];
  const hsToken = obj['hs_token'];
  if (
    typeof asToken !== 'string' ||
    !TOKEN_RE.test(asToken) ||
    typeof hsToken !== 'string' ||
    !TOKEN_RE.test(hsToken)
  ) {
    throw new ConfigError([
      {
        keyPath: 'matrix.tokensFile',
        expected: `a YAML file with as_token and hs_token (16+ token characters): ${file}`,
      },
    ]);
  }
  if (asToken === hsToken) {
    throw new ConfigError([{ keyPath: 'matrix.tokensFile', expected: `different as_token and hs_token: ${file}` }]);
  }
  return { asToken, hsToken };
}

/**
 * The tokens in `file`, creating the file (mode 0600, parent folders 0700) with fresh random
 * tokens when it does not exist. An existing file is only read, never rewritten.
 */
export function loadOrCreateMatrixTokens(
  file: string,
  gen: () => string = generateToken,
): { tokens: MatrixTokens; created: boolean } {
  if (existsSync(file)) return { tokens: readMatrixTokens(file), created: false };
  const tokens: MatrixTokens = { asToken: gen(), hsToken: gen() };
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const text =
    '# Matrix appservice tokens of mimi-gateway (created by generate-registration). Keep secret.\n' +
    YAML.stringify({ as_token: tokens.asToken, hs_token: tokens.hsToken });
  // 'wx': never overwrite a file created concurrently by another run.
  writeFileSync(file, text, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return { tokens, created: true };
}
