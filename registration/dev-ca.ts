/**
 * A development PKI for MIMI provider-to-provider mutual TLS (protocol-06 §4.1): one CA and, per
 * provider domain, one certificate that serves both as TLS server and TLS client certificate.
 * The domain goes in a dNSName subjectAltName, because peers authenticate it per RFC 6125 from
 * SANs only. Pure functions plus a small idempotent file writer; no Nest.
 *
 * Never use this for production: the CA key sits unencrypted next to the certificates.
 */
import 'reflect-metadata'; // @peculiar/x509 (through tsyringe) needs the Reflect polyfill loaded first
import { randomBytes, webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { isProviderDomain } from '../src/common/ids';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** ECDSA P-256 with SHA-256 for keys and signatures. */
const EC_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Back-date notBefore so that small clock differences between test machines do not matter. */
const CLOCK_SKEW_MS = 60 * 60 * 1000;
const DEV_CA_VALID_DAYS = 3650;
const DEV_CERT_VALID_DAYS = 365;
const DEV_CA_COMMON_NAME = 'mimi-gateway development CA';

/** A certificate and its private key, both PEM (the key is unencrypted PKCS#8). */
export interface PemKeyPair {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface DevCaOptions {
  readonly commonName?: string;
  readonly validDays?: number;
  /** Start of validity (default: now). */
  readonly now?: Date;
}

export interface ProviderCertificateOptions {
  /** IP addresses added as iPAddress SANs, e.g. ['127.0.0.1', '::1'] for loopback tests. */
  readonly ipAddresses?: readonly string[];
  readonly validDays?: number;
  readonly now?: Date;
}

/** Create a self-signed CA: basicConstraints CA:true (critical, pathLen 0), keyUsage keyCertSign + cRLSign. */
export async function createDevCa(opts: DevCaOptions = {}): Promise<PemKeyPair> {
  const keys = await generateKeyPair();
  const { notBefore, notAfter } = validity(opts.now, opts.validDays ?? DEV_CA_VALID_DAYS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialNumber(),
    name: [{ CN: [opts.commonName ?? DEV_CA_COMMON_NAME] }],
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: EC_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await exportPrivateKey(keys.privateKey) };
}

/**
 * Issue a certificate for a provider domain, signed by `ca`. It carries the domain as dNSName SAN
 * (plus any requested IP SANs) and extKeyUsage serverAuth + clientAuth, so one certificate serves
 * the HTTPS listener and the outgoing client connections alike.
 * @throws Error when `domain` is not a DNS name or an IP address is malformed.
 */
export async function issueProviderCertificate(
  ca: PemKeyPair,
  domain: string,
  opts: ProviderCertificateOptions = {},
): Promise<PemKeyPair> {
  if (!isProviderDomain(domain)) throw new Error(`not a DNS domain name: ${JSON.stringify(domain)}`);
  const ipAddresses = opts.ipAddresses ?? [];
  for (const ip of ipAddresses) {
    if (isIP(ip) === 0) throw new Error(`not an IP address: ${JSON.stringify(ip)}`);
  }
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await importPrivateKey(ca.keyPem);
  const caKeyId = caCert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  const keys = await generateKeyPair();
  const { notBefore, notAfter } = validity(opts.now, opts.validDays ?? DEV_CERT_VALID_DAYS);
  const names: x509.JsonGeneralName[] = [
    { type: 'dns', value: domain.toLowerCase() },
    ...ipAddresses.map((value): x509.JsonGeneralName => ({ type: 'ip', value })),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: [{ CN: [domain.toLowerCase()] }],
    issuer: caCert.subject,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: EC_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(names),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ...(caKeyId ? [new x509.AuthorityKeyIdentifierExtension(caKeyId)] : []),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await exportPrivateKey(keys.privateKey) };
}

/** Where writeDevPki put (or found) each file. */
export interface DevPkiFiles {
  readonly caCertFile: string;
  readonly caKeyFile: string;
  readonly providers: Readonly<Record<string, { readonly certFile: string; readonly keyFile: string }>>;
}

/**
 * Write `ca.crt`/`ca.key` and `<domain>.crt`/`<domain>.key` for each domain into `dir`
 * (created if missing). Idempotent: existing files are kept and reused (an existing CA signs new
 * domains). Keys are written with mode 0600. A half pair (certificate without key or the reverse)
 * is an error rather than silently overwritten.
 */
export async function writeDevPki(
  dir: string,
  domains: readonly string[],
  opts: Pick<ProviderCertificateOptions, 'ipAddresses' | 'validDays'> = {},
): Promise<DevPkiFiles> {
  mkdirSync(dir, { recursive: true });
  const caCertFile = join(dir, 'ca.crt');
  const caKeyFile = join(dir, 'ca.key');
  const ca = await ensurePair(caCertFile, caKeyFile, () => createDevCa());
  const providers: Record<string, { certFile: string; keyFile: string }> = {};
  for (const domain of domains) {
    const certFile = join(dir, `${domain}.crt`);
    const keyFile = join(dir, `${domain}.key`);
    await ensurePair(certFile, keyFile, () => issueProviderCertificate(ca, domain, opts));
    providers[domain] = { certFile, keyFile };
  }
  return { caCertFile, caKeyFile, providers };
}

/** Paths for ensureDevTls, typically from `tls.caFiles[0]`, `tls.certFile` and `tls.keyFile`. */
export interface DevTlsPaths {
  readonly caCertFile: string;
  readonly caKeyFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/**
 * The `tls.devAutoGenerate` quick start: make sure a CA and a provider certificate for `domain`
 * exist at the given paths, creating only what is missing. Same rules as writeDevPki.
 */
export async function ensureDevTls(
  paths: DevTlsPaths,
  domain: string,
  opts: Pick<ProviderCertificateOptions, 'ipAddresses' | 'validDays'> = {},
): Promise<void> {
  for (const p of Object.values(paths)) mkdirSync(join(p, '..'), { recursive: true });
  const ca = await ensurePair(paths.caCertFile, paths.caKeyFile, () => createDevCa());
  await ensurePair(paths.certFile, paths.keyFile, () => issueProviderCertificate(ca, domain, opts));
}

async function ensurePair(certFile: string, keyFile: string, create: () => Promise<PemKeyPair>): Promise<PemKeyPair> {
  const haveCert = existsSync(certFile);
  const haveKey = existsSync(keyFile);
  if (haveCert && haveKey) {
    return { certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') };
  }
  if (haveCert !== haveKey) {
    throw new Error(`${haveCert ? keyFile : certFile} is missing while ${haveCert ? certFile : keyFile} exists`);
  }
  const pair = await create();
  // 'wx' refuses to overwrite a file another process created in the meantime.
  writeFileSync(keyFile, pair.keyPem, { mode: 0o600, flag: 'wx' });
  writeFileSync(certFile, pair.certPem, { mode: 0o644, flag: 'wx' });
  return pair;
}

type KeyPair = Awaited<ReturnType<typeof webcrypto.subtle.generateKey>> & {
  publicKey: webcrypto.CryptoKey;
  privateKey: webcrypto.CryptoKey;
};

async function generateKeyPair(): Promise<KeyPair> {
  return (await webcrypto.subtle.generateKey(EC_ALGORITHM, true, ['sign', 'verify'])) as KeyPair;
}

async function exportPrivateKey(key: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function importPrivateKey(pem: string): Promise<webcrypto.CryptoKey> {
  const der = x509.PemConverter.decodeFirst(pem);
  return webcrypto.subtle.importKey('pkcs8', der, EC_ALGORITHM, false, ['sign']);
}

/** 16 random octets as a positive INTEGER (RFC 5280 §4.1.2.2: at most 20 octets, positive). */
function randomSerialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString('hex');
}

function validity(now: Date | undefined, days: number): { notBefore: Date; notAfter: Date } {
  const start = (now ?? new Date()).getTime();
  return { notBefore: new Date(start - CLOCK_SKEW_MS), notAfter: new Date(start + days * DAY_MS) };
}
