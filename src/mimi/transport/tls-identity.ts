/**
 * Which provider domains a TLS certificate authenticates, and the header parsing that names the
 * domains a request claims (protocol-06 §4.1: "The certificates presented in the TLS handshake
 * MUST authenticate the source and target provider domains, according to [RFC6125]").
 *
 * RFC 6125 rules applied here:
 * - only dNSName subjectAltName entries count; the subject CN is never consulted (§6.4.4 allows
 *   the CN fallback only when there is no SAN at all, and we do not need it: our certificates
 *   always carry SANs);
 * - matching is case-insensitive on the LDH form (§6.4.1);
 * - a wildcard is accepted only as the complete left-most label (`*.example.org`), matches exactly
 *   one label, and never sits directly above a single-label name such as a TLD (§6.4.3, §7.2).
 */
import 'reflect-metadata'; // @peculiar/x509 (through tsyringe) needs the Reflect polyfill loaded first
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { PeerCertificate } from 'node:tls';
import * as x509 from '@peculiar/x509';
import { ProviderDomain, isProviderDomain } from '../../common/ids';

/** Anything a certificate arrives as: node's X509Certificate, `getPeerCertificate()`, DER or PEM. */
export type CertificateInput = X509Certificate | PeerCertificate | Uint8Array | string;

/** The reference identities a certificate presents (RFC 6125 §6.4), normalised to lower case. */
export interface CertificateIdentity {
  /** Exact DNS names from dNSName SANs. */
  readonly dnsNames: ReadonlySet<string>;
  /** For each valid wildcard SAN `*.<parent>`, the `<parent>` (it matches `<one label>.<parent>`). */
  readonly wildcardParents: ReadonlySet<string>;
}

const EMPTY_IDENTITY: CertificateIdentity = { dnsNames: new Set(), wildcardParents: new Set() };

/**
 * The provider domains `cert` authenticates. Malformed dNSName entries (partial wildcards such as
 * `f*.example`, wildcards in other labels, wildcards over a TLD, non-LDH names) are ignored.
 * A certificate without a SAN extension, or an empty `getPeerCertificate()` result, authenticates
 * nothing.
 */
export function certificateIdentity(cert: CertificateInput): CertificateIdentity {
  const der = toDer(cert);
  if (!der) return EMPTY_IDENTITY;
  let san: x509.SubjectAlternativeNameExtension | null;
  try {
    san = new x509.X509Certificate(der).getExtension(x509.SubjectAlternativeNameExtension);
  } catch {
    return EMPTY_IDENTITY;
  }
  if (!san) return EMPTY_IDENTITY;
  const dnsNames = new Set<string>();
  const wildcardParents = new Set<string>();
  for (const name of san.names.items) {
    if (name.type !== 'dns') continue;
    const value = name.value.toLowerCase();
    if (value.startsWith('*.')) {
      const parent = value.slice(2);
      // Never `*.tld`: the parent must have at least two labels.
      if (isProviderDomain(parent) && parent.includes('.')) wildcardParents.add(parent);
    } else if (isProviderDomain(value)) {
      dnsNames.add(value);
    }
  }
  return { dnsNames, wildcardParents };
}

/** True when `cert` (or an identity already derived from one) authenticates `domain` per RFC 6125. */
export function matchesDomain(cert: CertificateInput | CertificateIdentity, domain: string): boolean {
  const reference = domain.toLowerCase();
  if (!isProviderDomain(reference) || isIP(reference) !== 0) return false;
  const identity = isIdentity(cert) ? cert : certificateIdentity(cert);
  if (identity.dnsNames.has(reference)) return true;
  const dot = reference.indexOf('.');
  // The wildcard stands for exactly the first label; the rest must equal the wildcard's parent.
  return dot > 0 && identity.wildcardParents.has(reference.slice(dot + 1));
}

/**
 * The source provider named by a `From` header (protocol-06 §4.1): an addr-spec whose local part
 * is the fixed string `mimi`, e.g. `mimi@a.example`. Returns the lower-cased domain, or undefined
 * when the value is absent, repeated, uses the name-addr form (`<...>`, display names), has another
 * local part, or the domain is not a DNS name.
 */
export function parseFromHeader(value: string | readonly string[] | undefined): ProviderDomain | undefined {
  const single = singleHeader(value);
  if (single === undefined) return undefined;
  const m = /^mimi@([^@\s]+)$/.exec(single.trim());
  if (!m) return undefined;
  const domain = m[1]!.toLowerCase();
  return isProviderDomain(domain) ? domain : undefined;
}

/** The value to send in `From` for our provider domain (protocol-06 §4.1). */
export function formatFromHeader(domain: string): string {
  return `mimi@${domain}`;
}

/**
 * The host of a `Host` header without its port (protocol-06 §4.1: the port component is
 * ignored), lower-cased; IPv6 literals lose their brackets. Undefined when absent, repeated or
 * malformed.
 */
export function parseHostHeader(value: string | readonly string[] | undefined): string | undefined {
  const single = singleHeader(value);
  if (single === undefined) return undefined;
  const m = /^(?:\[([0-9a-f:.]+)\]|([a-z0-9._-]+))(?::(\d{1,5}))?$/i.exec(single.trim());
  if (!m) return undefined;
  if (m[3] !== undefined && Number(m[3]) > 65535) return undefined;
  return (m[1] ?? m[2]!).toLowerCase();
}

function singleHeader(value: string | readonly string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  return value.length === 1 ? value[0] : undefined;
}

function isIdentity(v: CertificateInput | CertificateIdentity): v is CertificateIdentity {
  return typeof v === 'object' && v !== null && 'dnsNames' in v && 'wildcardParents' in v;
}

function toDer(cert: CertificateInput): Uint8Array | undefined {
  if (typeof cert === 'string') {
    try {
      return new X509Certificate(cert).raw;
    } catch {
      return undefined;
    }
  }
  if (cert instanceof Uint8Array) return cert;
  if (cert instanceof X509Certificate) return cert.raw;
  // getPeerCertificate() answers `{}` when the peer sent no certificate.
  return cert.raw instanceof Uint8Array && cert.raw.length > 0 ? cert.raw : undefined;
}
