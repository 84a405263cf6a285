import { CodecError, ValidationError } from '../../common/errors';
import { validateConfig } from '../../config/load-config';
import { buildDirectory, directoryBaseUrl, expandTemplate, parseDirectory } from './mimi-directory';
import { SERVED_ENDPOINTS } from './mimi-paths';

const BASE = 'https://gw.example:8443';
const CLUB_ROOM = 'mimi://gw.example/r/club';
const ALICE = 'mimi://gw.example/u/alice';

function config(provider: Record<string, unknown>, port?: number) {
  return validateConfig({ provider, ...(port === undefined ? {} : { listen: { port } }) }, { env: {} });
}

describe('directoryBaseUrl', () => {
  it('prefers provider.publicBaseUrl, without a trailing slash', () => {
    expect(directoryBaseUrl(config({ domain: 'gw.example', publicBaseUrl: 'https://mimi.gw.example/v1/' }))).toBe(
      'https://mimi.gw.example/v1',
    );
  });

  it('falls back to https://<domain>:<listen.port>, omitting 443 and using the bound port for port 0', () => {
    expect(directoryBaseUrl(config({ domain: 'gw.example' }, 8443))).toBe(BASE);
    expect(directoryBaseUrl(config({ domain: 'gw.example' }, 443))).toBe('https://gw.example');
    expect(directoryBaseUrl(config({ domain: 'gw.example' }, 0), 40123)).toBe('https://gw.example:40123');
  });
});

describe('buildDirectory', () => {
  it('lists exactly the endpoints we serve, as valid JSON with the §5 path templates', () => {
    const json = JSON.stringify(buildDirectory(`${BASE}/`));
    expect(JSON.parse(json)).toEqual({
      keyMaterial: `${BASE}/keyMaterial/{targetUser}`,
      update: `${BASE}/update/{roomId}`,
      notify: `${BASE}/notify/{roomId}`,
      submitMessage: `${BASE}/submitMessage/{roomId}`,
      groupInfo: `${BASE}/groupInfo/{roomId}`,
      identifierQuery: `${BASE}/identifierQuery/{domain}`,
      requestConsent: `${BASE}/requestConsent/{targetDomain}`,
      updateConsent: `${BASE}/updateConsent/{requesterDomain}`,
      reportAbuse: `${BASE}/reportAbuse/{roomId}`,
      proxyDownload: `${BASE}/proxyDownload/{downloadUrl}`,
    });
    expect(Object.keys(JSON.parse(json))).toEqual([...SERVED_ENDPOINTS]);
  });

  it('is read back unchanged by parseDirectory', () => {
    const directory = buildDirectory(BASE);
    expect(parseDirectory(JSON.parse(JSON.stringify(directory)))).toEqual(directory);
  });
});

describe('parseDirectory', () => {
  it('keeps usable https templates of known endpoints and ignores the rest', () => {
    expect(
      parseDirectory({
        notify: 'https://mimi.example.com/v1/notify/{roomId}',
        update: 'http://mimi.example.com/v1/update/{roomId}',
        submitMessage: 'https://mimi.example.com/v1/submitMessage',
        groupInfo: 42,
        proxyDownload: 'https://mimi.example.com/v1/proxyDownload/{downloadUrl}',
        reportAbuse: 'https://mimi.example.com/v1/reportAbuse/{url}',
        ohttpGateway: 'https://mimi.example.com/v1/ohttp',
      }),
    ).toEqual({
      notify: 'https://mimi.example.com/v1/notify/{roomId}',
      proxyDownload: 'https://mimi.example.com/v1/proxyDownload/{downloadUrl}',
    });
  });

  it('takes the draft example literally where it is well-formed (update{roomId} without a slash)', () => {
    expect(parseDirectory({ update: 'https://mimi.example.com/v1/update{roomId}' })).toEqual({
      update: 'https://mimi.example.com/v1/update{roomId}',
    });
  });

  it.each([[null], [[]], ['text'], [{}], [{ notify: 'not a url {roomId}' }]])('rejects %p', (doc) => {
    expect(() => parseDirectory(doc)).toThrow(CodecError);
  });
});

describe('expandTemplate', () => {
  it('puts the percent-encoded URI in place of the variable', () => {
    expect(expandTemplate(`${BASE}/notify/{roomId}`, 'notify', CLUB_ROOM).href).toBe(
      `${BASE}/notify/mimi%3A%2F%2Fgw.example%2Fr%2Fclub`,
    );
    expect(expandTemplate(`${BASE}/keyMaterial/{targetUser}`, 'keyMaterial', ALICE).pathname).toBe(
      '/keyMaterial/mimi%3A%2F%2Fgw.example%2Fu%2Falice',
    );
  });

  it('rejects a URI that is not a MIMI URI', () => {
    expect(() => expandTemplate(`${BASE}/notify/{roomId}`, 'notify', 'club')).toThrow(ValidationError);
  });

  it('puts a provider domain, as it is, in identifierQuery’s {domain}, and nothing else', () => {
    expect(expandTemplate(`${BASE}/identifierQuery/{domain}`, 'identifierQuery', 'B.Example').pathname).toBe(
      '/identifierQuery/b.example',
    );
    expect(() => expandTemplate(`${BASE}/identifierQuery/{domain}`, 'identifierQuery', CLUB_ROOM)).toThrow(
      ValidationError,
    );
  });
});
