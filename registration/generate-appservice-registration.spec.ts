import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { MatrixConfig } from '../bridges/matrix/matrix.config';
import {
  APPSERVICE_ID,
  escapeRegex,
  generateAppserviceRegistration,
  renderRegistrationYaml,
} from './generate-appservice-registration';

const TOKENS = { asToken: 'as-token-for-golden-file-0001', hsToken: 'hs-token-for-golden-file-0002' };
const GOLDEN = join(__dirname, 'fixtures', 'appservice-registration.golden.yaml');

function matrix(overrides: Partial<MatrixConfig> = {}): MatrixConfig {
  return Object.assign(
    new MatrixConfig(),
    { homeserverUrl: 'http://127.0.0.1:8008', domain: 'example.org' },
    overrides,
  );
}

describe(generateAppserviceRegistration.name, () => {
  it('matches the golden file for the default config', () => {
    expect(renderRegistrationYaml(generateAppserviceRegistration(matrix(), TOKENS))).toBe(readFileSync(GOLDEN, 'utf8'));
  });

  it('claims exclusive ghost and portal namespaces and turns off rate limits', () => {
    const reg = generateAppserviceRegistration(matrix({ prefix: 'mimi.x_', domain: 'chat.example.org' }), TOKENS);
    expect(reg.namespaces.users).toEqual([{ regex: '@mimi\\.x_.*:chat\\.example\\.org', exclusive: true }]);
    expect(reg.namespaces.aliases).toEqual([{ regex: '#mimi\\.x_.*:chat\\.example\\.org', exclusive: true }]);
    expect(reg.rate_limited).toBe(false);
    expect(reg.receive_ephemeral).toBe(true); // read receipts (bridges/matrix/read-receipts.ts)
    expect(reg['de.sorunome.msc2409.push_ephemeral']).toBe(true);
    const users = new RegExp(`^${reg.namespaces.users[0]!.regex}$`);
    expect(users.test('@mimi.x_f.example_carol:chat.example.org')).toBe(true);
    expect(users.test('@mimiaxbcarol:chat.example.org')).toBe(false);
    expect(users.test('@mimi.x_carol:chatxexample.org')).toBe(false);
  });

  it('uses the appservice host and port, bracketing IPv6', () => {
    expect(
      generateAppserviceRegistration(matrix({ appserviceHost: 'gateway', appservicePort: 9100 }), TOKENS).url,
    ).toBe('http://gateway:9100');
    expect(generateAppserviceRegistration(matrix({ appserviceHost: '::1' }), TOKENS).url).toBe('http://[::1]:9000');
  });

  it('restricts the as_token to loopback only when the homeserver is reached over loopback', () => {
    expect(generateAppserviceRegistration(matrix(), TOKENS).ip_range_whitelist).toEqual(['127.0.0.0/8', '::1/128']);
    expect(
      generateAppserviceRegistration(matrix({ homeserverUrl: 'https://matrix.example.org' }), TOKENS)
        .ip_range_whitelist,
    ).toBeUndefined();
  });

  it('writes YAML the homeserver reads back to the same registration', () => {
    const reg = generateAppserviceRegistration(matrix(), TOKENS);
    expect(YAML.parse(renderRegistrationYaml(reg))).toEqual(reg);
    expect(reg.id).toBe(APPSERVICE_ID);
    expect(reg.sender_localpart).toBe('mimibot');
  });

  it('escapes every regex metacharacter', () => {
    expect(new RegExp(`^${escapeRegex('a.b*c+(d)[e]$^|?{}\\')}$`).test('a.b*c+(d)[e]$^|?{}\\')).toBe(true);
  });
});
