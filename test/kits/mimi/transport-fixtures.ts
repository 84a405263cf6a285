/**
 * Test kit for the MIMI transport: a throwaway PKI on disk and configs that point at it.
 * Used by the transport's specs (and by later e2e tests of MIMI endpoints).
 */
import 'reflect-metadata';
import { randomBytes, webcrypto } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Server, createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import * as x509 from '@peculiar/x509';
import { PemKeyPair, createDevCa, issueProviderCertificate } from '../../../registration/dev-ca';
import { GatewayConfig } from '../../../src/config/gateway-config';
import { validateConfig } from '../../../src/config/load-config';
import { matchesDomain } from '../../../src/mimi/transport/tls-identity';

/** Provider domains used across the transport tests. */
export const DOMAIN_A = 'a.example';
export const DOMAIN_B = 'b.example';
export const DOMAIN_C = 'c.example';
export const LOOPBACK_HOST = '127.0.0.1';
export const LOOPBACK_IPS = ['127.0.0.1', '::1'];

/**
 * - `ca`: the default trust anchor of every test provider;
 * - `peerCa`: a second CA, trusted only for DOMAIN_C (`peers[].caFiles`);
 * - `strangerCa`: trusted by nobody.
 */
export interface TestPki {
  readonly ca: PemKeyPair;
  readonly peerCa: PemKeyPair;
  readonly strangerCa: PemKeyPair;
  readonly a: PemKeyPair;
  readonly b: PemKeyPair;
  readonly cByPeerCa: PemKeyPair;
  readonly cByCa: PemKeyPair;
  readonly aByPeerCa: PemKeyPair;
  readonly aByStranger: PemKeyPair;
}

export async function createTestPki(): Promise<TestPki> {
  const [ca, peerCa, strangerCa] = await Promise.all([createDevCa(), createDevCa(), createDevCa()]);
  const opts = { ipAddresses: LOOPBACK_IPS };
  const [a, b, cByPeerCa, cByCa, aByPeerCa, aByStranger] = await Promise.all([
    issueProviderCertificate(ca, DOMAIN_A, opts),
    issueProviderCertificate(ca, DOMAIN_B, opts),
    issueProviderCertificate(peerCa, DOMAIN_C, opts),
    issueProviderCertificate(ca, DOMAIN_C, opts),
    issueProviderCertificate(peerCa, DOMAIN_A, opts),
    issueProviderCertificate(strangerCa, DOMAIN_A, opts),
  ]);
  return { ca, peerCa, strangerCa, a, b, cByPeerCa, cByCa, aByPeerCa, aByStranger };
}

const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/**
 * A certificate with arbitrary subject CN and SANs (including malformed ones such as `f*.example`),
 * for RFC 6125 matching tests. Not valid for TLS use beyond that.
 */
export async function issueTestCertificate(
  ca: PemKeyPair,
  names: { commonName?: string; dnsNames?: readonly string[]; ipAddresses?: readonly string[] },
): Promise<PemKeyPair> {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await webcrypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(ca.keyPem), EC, false, [
    'sign',
  ]);
  const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const general: x509.JsonGeneralName[] = [
    ...(names.dnsNames ?? []).map((value): x509.JsonGeneralName => ({ type: 'dns', value })),
    ...(names.ipAddresses ?? []).map((value): x509.JsonGeneralName => ({ type: 'ip', value })),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: `01${randomBytes(8).toString('hex')}`,
    subject: names.commonName ? [{ CN: [names.commonName] }] : [{ O: ['test'] }],
    issuer: caCert.subject,
    notBefore: new Date(Date.now() - 3600_000),
    notAfter: new Date(Date.now() + 86400_000),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: EC,
    extensions: general.length > 0 ? [new x509.SubjectAlternativeNameExtension(general)] : [],
  });
  const keyPem = x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY');
  return { certPem: cert.toString('pem'), keyPem };
}

/** A temporary directory holding PEM files; `cleanup()` removes it. */
export class PemDir {
  readonly path = mkdtempSync(join(tmpdir(), 'mimi-transport-'));

  /** Write `text` as `<name>` (mode 0600) and return its path. */
  write(name: string, text: string): string {
    const file = join(this.path, name);
    writeFileSync(file, text, { mode: 0o600 });
    return file;
  }

  cleanup(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

/**
 * A validated GatewayConfig for provider `domain` using `identity` as its certificate and `ca` as
 * its default anchor, with relative file names resolved in `dir`.
 */
export function providerConfig(
  dir: PemDir,
  domain: string,
  identity: PemKeyPair,
  ca: PemKeyPair,
  extra: Record<string, unknown> = {},
): GatewayConfig {
  const base = `${domain}-${randomBytes(4).toString('hex')}`;
  dir.write(`${base}.crt`, identity.certPem);
  dir.write(`${base}.key`, identity.keyPem);
  dir.write(`${base}-ca.crt`, ca.certPem);
  return validateConfig(
    {
      provider: { domain },
      listen: { host: LOOPBACK_HOST, port: 0 },
      tls: { certFile: `${base}.crt`, keyFile: `${base}.key`, caFiles: [`${base}-ca.crt`] },
      ...extra,
    },
    { baseDir: dir.path, env: {} },
  );
}

/** One request as a ScriptedPeer saw it. */
export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly clientAuthorized: boolean;
  readonly clientIsA: boolean;
}

export type Script = (res: ServerResponse, req: RecordedRequest) => void;

/** A plain HTTPS server standing in for peer B; each request is answered by `script`. */
export class ScriptedPeer extends EventEmitter {
  readonly requests: RecordedRequest[] = [];
  connections = 0;
  script: Script = (res) => res.writeHead(201).end();
  private constructor(readonly server: Server) {
    super();
  }

  static async start(identity: PemKeyPair, ca: PemKeyPair): Promise<ScriptedPeer> {
    const server = createServer({
      key: identity.keyPem,
      cert: identity.certPem,
      ca: ca.certPem,
      requestCert: true,
      rejectUnauthorized: false,
    });
    const peer = new ScriptedPeer(server);
    server.on('secureConnection', () => peer.connections++);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const socket = req.socket as TLSSocket;
        const rec: RecordedRequest = {
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks),
          clientAuthorized: socket.authorized,
          clientIsA: matchesDomain(socket.getPeerCertificate(), DOMAIN_A),
        };
        peer.requests.push(rec);
        peer.emit('recorded', rec);
        peer.script(res, rec);
      });
    });
    server.listen(0, LOOPBACK_HOST);
    await once(server, 'listening');
    return peer;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Resolves with the next request this peer records. */
  nextRequest(): Promise<RecordedRequest> {
    return once(this, 'recorded').then(([rec]) => rec as RecordedRequest);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }
}
