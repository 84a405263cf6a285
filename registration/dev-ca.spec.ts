import 'reflect-metadata';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import * as x509 from '@peculiar/x509';
import { PemKeyPair, createDevCa, ensureDevTls, issueProviderCertificate, writeDevPki } from './dev-ca';

const DOMAIN_A = 'a.example';
const DOMAIN_B = 'b.example';
const LOOPBACK_IPS = ['127.0.0.1', '::1'];
const OID_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const HANDSHAKE_TIMEOUT_MS = 5000;

function keyUsageFlags(pem: string): number {
  const ext = new x509.X509Certificate(pem).getExtension(x509.KeyUsagesExtension);
  if (!ext) throw new Error('no keyUsage extension');
  return ext.usages;
}

describe('createDevCa', () => {
  let ca: PemKeyPair;
  beforeAll(async () => {
    ca = await createDevCa();
  });

  it('creates a self-signed CA certificate with basicConstraints CA:true', () => {
    const cert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.checkIssued(cert)).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(true);
  });

  it('allows certificate signing (keyCertSign) and uses a P-256 key', () => {
    expect(keyUsageFlags(ca.certPem) & x509.KeyUsageFlags.keyCertSign).toBe(x509.KeyUsageFlags.keyCertSign);
    const key = createPrivateKey(ca.keyPem);
    expect(key.asymmetricKeyType).toBe('ec');
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });

  it('honours the requested validity period', async () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const short = await createDevCa({ now, validDays: 2 });
    const cert = new X509Certificate(short.certPem);
    expect(new Date(cert.validTo).getTime()).toBe(now.getTime() + 2 * 24 * 3600 * 1000);
  });
});

describe('issueProviderCertificate', () => {
  let ca: PemKeyPair;
  let other: PemKeyPair;
  beforeAll(async () => {
    ca = await createDevCa();
    other = await createDevCa({ commonName: 'another CA' });
  });

  it('is issued and signed by the CA, and is not itself a CA', async () => {
    const leaf = new X509Certificate((await issueProviderCertificate(ca, DOMAIN_B)).certPem);
    const caCert = new X509Certificate(ca.certPem);
    expect(leaf.checkIssued(caCert)).toBe(true);
    expect(leaf.verify(caCert.publicKey)).toBe(true);
    expect(leaf.verify(new X509Certificate(other.certPem).publicKey)).toBe(false);
    expect(leaf.ca).toBe(false);
  });

  it('names the domain as dNSName SAN and adds IP SANs only when asked', async () => {
    const plain = new X509Certificate((await issueProviderCertificate(ca, DOMAIN_B)).certPem);
    expect(plain.subjectAltName).toBe(`DNS:${DOMAIN_B}`);
    const loopback = new X509Certificate(
      (await issueProviderCertificate(ca, DOMAIN_B, { ipAddresses: LOOPBACK_IPS })).certPem,
    );
    expect(loopback.subjectAltName).toBe(`DNS:${DOMAIN_B}, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1`);
    expect(loopback.checkHost(DOMAIN_B)).toBe(DOMAIN_B);
    expect(loopback.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(loopback.checkHost(DOMAIN_A)).toBeUndefined();
  });

  it('is usable as TLS server and client certificate (serverAuth + clientAuth, digitalSignature)', async () => {
    const pair = await issueProviderCertificate(ca, DOMAIN_B);
    const leaf = new X509Certificate(pair.certPem);
    expect(leaf.keyUsage).toEqual(expect.arrayContaining([OID_SERVER_AUTH, OID_CLIENT_AUTH]));
    expect(keyUsageFlags(pair.certPem) & x509.KeyUsageFlags.digitalSignature).toBe(x509.KeyUsageFlags.digitalSignature);
    expect(leaf.checkPrivateKey(createPrivateKey(pair.keyPem))).toBe(true);
  });

  it('rejects a value that is not a domain name, and a malformed IP address', async () => {
    await expect(issueProviderCertificate(ca, 'not a domain')).rejects.toThrow(/not a DNS domain name/);
    await expect(issueProviderCertificate(ca, DOMAIN_B, { ipAddresses: ['300.1.1.1'] })).rejects.toThrow(
      /not an IP address/,
    );
  });
});

describe('TLS handshake with dev certificates', () => {
  let ca: PemKeyPair;
  let server: tls.Server;
  let port: number;
  beforeAll(async () => {
    ca = await createDevCa();
    const serverPair = await issueProviderCertificate(ca, DOMAIN_B, { ipAddresses: LOOPBACK_IPS });
    server = tls.createServer({
      key: serverPair.keyPem,
      cert: serverPair.certPem,
      ca: ca.certPem,
      requestCert: true,
      rejectUnauthorized: false,
    });
    server.on('secureConnection', (socket) => socket.end(socket.authorized ? 'authorized' : 'unauthorized'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.close();
    await once(server, 'close');
  });

  async function handshake(client: PemKeyPair): Promise<{ clientAuthorized: boolean; serverSaid: string }> {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      servername: DOMAIN_B,
      ca: ca.certPem,
      key: client.keyPem,
      cert: client.certPem,
    });
    socket.setTimeout(HANDSHAKE_TIMEOUT_MS, () => socket.destroy(new Error('handshake timed out')));
    await once(socket, 'secureConnect');
    const clientAuthorized = socket.authorized;
    let serverSaid = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (serverSaid += d));
    await once(socket, 'end');
    socket.destroy();
    return { clientAuthorized, serverSaid };
  }

  it('authenticates both ends when both certificates come from the CA', async () => {
    const client = await issueProviderCertificate(ca, DOMAIN_A);
    await expect(handshake(client)).resolves.toEqual({ clientAuthorized: true, serverSaid: 'authorized' });
  });

  it('reports a client certificate from another CA as unauthorized', async () => {
    const stranger = await issueProviderCertificate(await createDevCa(), DOMAIN_A);
    await expect(handshake(stranger)).resolves.toEqual({ clientAuthorized: true, serverSaid: 'unauthorized' });
  });
});

describe('writeDevPki', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dev-pki-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a CA and one certificate per domain, keys with mode 0600', async () => {
    const files = await writeDevPki(dir, [DOMAIN_A, DOMAIN_B]);
    expect(files.caCertFile).toBe(join(dir, 'ca.crt'));
    expect(files.providers[DOMAIN_B]).toEqual({
      certFile: join(dir, 'b.example.crt'),
      keyFile: join(dir, 'b.example.key'),
    });
    const caCert = new X509Certificate(readFileSync(files.caCertFile));
    for (const domain of [DOMAIN_A, DOMAIN_B]) {
      const { certFile, keyFile } = files.providers[domain]!;
      expect(new X509Certificate(readFileSync(certFile)).verify(caCert.publicKey)).toBe(true);
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    }
    expect(statSync(files.caKeyFile).mode & 0o777).toBe(0o600);
  });

  it('keeps existing files and signs new domains with the existing CA', async () => {
    const first = await writeDevPki(dir, [DOMAIN_A]);
    const caPem = readFileSync(first.caCertFile, 'utf8');
    const aPem = readFileSync(first.providers[DOMAIN_A]!.certFile, 'utf8');
    const second = await writeDevPki(dir, [DOMAIN_A, DOMAIN_B]);
    expect(readFileSync(second.caCertFile, 'utf8')).toBe(caPem);
    expect(readFileSync(second.providers[DOMAIN_A]!.certFile, 'utf8')).toBe(aPem);
    const b = new X509Certificate(readFileSync(second.providers[DOMAIN_B]!.certFile));
    expect(b.verify(new X509Certificate(caPem).publicKey)).toBe(true);
  });

  it('refuses to complete a half pair', async () => {
    const files = await writeDevPki(dir, [DOMAIN_A]);
    unlinkSync(files.providers[DOMAIN_A]!.keyFile);
    await expect(writeDevPki(dir, [DOMAIN_A])).rejects.toThrow(/a\.example\.key is missing/);
  });
});

describe('ensureDevTls', () => {
  it('creates missing files once and reuses them afterwards', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dev-tls-'));
    try {
      const paths = {
        caCertFile: join(dir, 'tls', 'ca.crt'),
        caKeyFile: join(dir, 'tls', 'ca.key'),
        certFile: join(dir, 'tls', 'provider.crt'),
        keyFile: join(dir, 'tls', 'provider.key'),
      };
      await ensureDevTls(paths, DOMAIN_A);
      const certPem = readFileSync(paths.certFile, 'utf8');
      expect(new X509Certificate(certPem).checkHost(DOMAIN_A)).toBe(DOMAIN_A);
      await ensureDevTls(paths, DOMAIN_A);
      expect(readFileSync(paths.certFile, 'utf8')).toBe(certPem);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
