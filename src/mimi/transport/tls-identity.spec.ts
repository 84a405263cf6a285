import { X509Certificate } from 'node:crypto';
import { PemKeyPair, createDevCa } from '../../../registration/dev-ca';
import { certificateIdentity, formatFromHeader, matchesDomain, parseFromHeader, parseHostHeader } from './tls-identity';
import { DOMAIN_A, DOMAIN_B, DOMAIN_C, issueTestCertificate } from '../../../test/kits/mimi/transport-fixtures';

const WILDCARD_PARENT = 'chat.example.org';
const UNDER_WILDCARD = 'gw.chat.example.org';
const TWO_BELOW_WILDCARD = 'a.gw.chat.example.org';

describe('certificateIdentity / matchesDomain', () => {
  let ca: PemKeyPair;
  const certWith = async (names: Parameters<typeof issueTestCertificate>[1]): Promise<string> =>
    (await issueTestCertificate(ca, names)).certPem;

  beforeAll(async () => {
    ca = await createDevCa();
  });

  it('matches the dNSName SAN, case-insensitively', async () => {
    const pem = await certWith({ dnsNames: [DOMAIN_A] });
    expect(matchesDomain(pem, DOMAIN_A)).toBe(true);
    expect(matchesDomain(pem, 'A.Example')).toBe(true);
    expect(matchesDomain(pem, DOMAIN_B)).toBe(false);
  });

  it('authenticates every dNSName of a multi-SAN certificate and nothing else', async () => {
    const pem = await certWith({ dnsNames: [DOMAIN_A, 'B.EXAMPLE'] });
    expect(certificateIdentity(pem).dnsNames).toEqual(new Set([DOMAIN_A, DOMAIN_B]));
    expect(matchesDomain(pem, DOMAIN_B)).toBe(true);
    expect(matchesDomain(pem, DOMAIN_C)).toBe(false);
  });

  it('never falls back to the subject CN', async () => {
    const cnOnly = await certWith({ commonName: DOMAIN_A });
    expect(matchesDomain(cnOnly, DOMAIN_A)).toBe(false);
    const cnAndSan = await certWith({ commonName: DOMAIN_A, dnsNames: [DOMAIN_B] });
    expect(matchesDomain(cnAndSan, DOMAIN_A)).toBe(false);
    expect(matchesDomain(cnAndSan, DOMAIN_B)).toBe(true);
  });

  it('lets a left-most wildcard label match exactly one label', async () => {
    const pem = await certWith({ dnsNames: [`*.${WILDCARD_PARENT}`] });
    expect(certificateIdentity(pem).wildcardParents).toEqual(new Set([WILDCARD_PARENT]));
    expect(matchesDomain(pem, UNDER_WILDCARD)).toBe(true);
    expect(matchesDomain(pem, WILDCARD_PARENT)).toBe(false);
    expect(matchesDomain(pem, TWO_BELOW_WILDCARD)).toBe(false);
  });

  it.each([
    ['a bare TLD wildcard', '*.org', 'example.org'],
    ['a partial left-most label', 'g*.chat.example.org', UNDER_WILDCARD],
    ['a wildcard in a later label', 'gw.*.example.org', UNDER_WILDCARD],
    ['two wildcard labels', '*.*.example.org', UNDER_WILDCARD],
    ['a lone asterisk', '*', DOMAIN_A],
  ])('ignores %s (%s)', async (_what, san, candidate) => {
    const pem = await certWith({ dnsNames: [san] });
    expect(matchesDomain(pem, candidate)).toBe(false);
    expect(certificateIdentity(pem)).toEqual({ dnsNames: new Set(), wildcardParents: new Set() });
  });

  it('does not treat IP SANs or IP references as provider domains', async () => {
    const pem = await certWith({ dnsNames: [DOMAIN_A], ipAddresses: ['127.0.0.1'] });
    expect(matchesDomain(pem, '127.0.0.1')).toBe(false);
    expect(certificateIdentity(pem).dnsNames).toEqual(new Set([DOMAIN_A]));
  });

  it('accepts X509Certificate, DER, getPeerCertificate() shapes and an already derived identity', async () => {
    const pem = await certWith({ dnsNames: [DOMAIN_A] });
    const node = new X509Certificate(pem);
    expect(matchesDomain(node, DOMAIN_A)).toBe(true);
    expect(matchesDomain(node.raw, DOMAIN_A)).toBe(true);
    expect(matchesDomain({ raw: node.raw } as never, DOMAIN_A)).toBe(true);
    expect(matchesDomain(certificateIdentity(node), DOMAIN_A)).toBe(true);
  });

  it('authenticates nothing for an absent certificate or garbage', () => {
    expect(matchesDomain({} as never, DOMAIN_A)).toBe(false);
    expect(matchesDomain('not a certificate', DOMAIN_A)).toBe(false);
    expect(matchesDomain(new Uint8Array([1, 2, 3]), DOMAIN_A)).toBe(false);
  });
});

describe('parseFromHeader', () => {
  it('reads the provider domain from mimi@<domain> (protocol-06 §4.1)', () => {
    expect(parseFromHeader(`mimi@${DOMAIN_A}`)).toBe(DOMAIN_A);
    expect(parseFromHeader(' mimi@A.Example ')).toBe(DOMAIN_A);
    expect(parseFromHeader([`mimi@${DOMAIN_A}`])).toBe(DOMAIN_A);
    expect(parseFromHeader(formatFromHeader(DOMAIN_B))).toBe(DOMAIN_B);
  });

  it.each([
    ['absent', undefined],
    ['another local part', `alice@${DOMAIN_A}`],
    ['the name-addr form', `<mimi@${DOMAIN_A}>`],
    ['a display name', `Provider A <mimi@${DOMAIN_A}>`],
    ['two addresses', `mimi@${DOMAIN_A}, mimi@${DOMAIN_B}`],
    ['a repeated header', [`mimi@${DOMAIN_A}`, `mimi@${DOMAIN_B}`]],
    ['no domain', 'mimi@'],
    ['an address literal', 'mimi@[127.0.0.1]'],
    ['a trailing dot', `mimi@${DOMAIN_A}.`],
  ])('refuses %s', (_what, value) => {
    expect(parseFromHeader(value as string | string[] | undefined)).toBeUndefined();
  });
});

describe('parseHostHeader', () => {
  it('drops the port and lower-cases (protocol-06 §4.1: the port is ignored)', () => {
    expect(parseHostHeader(DOMAIN_B)).toBe(DOMAIN_B);
    expect(parseHostHeader('B.Example:8443')).toBe(DOMAIN_B);
    expect(parseHostHeader('[::1]:443')).toBe('::1');
  });

  it.each([
    ['absent', undefined],
    ['a port out of range', `${DOMAIN_B}:99999`],
    ['an empty port', `${DOMAIN_B}:`],
    ['a repeated header', [DOMAIN_B, DOMAIN_C]],
    ['a path', `${DOMAIN_B}/x`],
  ])('refuses %s', (_what, value) => {
    expect(parseHostHeader(value as string | string[] | undefined)).toBeUndefined();
  });
});
