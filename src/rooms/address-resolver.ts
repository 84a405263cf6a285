/**
 * A human address to a MIMI user URI, through the user's provider's `/identifierQuery`
 * (protocol-06 §5.8, the client side of identifier-query.ts):
 *
 *   `xmpp:bob@b.test`, `bob@b.test`, `@carol:hs.example`, `matrix:u/carol:hs.example`
 *     → the address domain (`b.test`, `hs.example`)
 *     → the provider: the peer whose `addressDomains` (config `peers`) lists it, else the provider
 *       of that very name (a native MIMI provider's handles are under its own domain)
 *     → POST /identifierQuery/{provider} with one `handle` element
 *     → the one URI it answers, which must be of that provider.
 *
 * A MIMI user URI (`mimi://b.example/u/...`) is taken as it is. Every refusal names the provider
 * and its answer (`b.example has no user xmpp:nobody@b.test (notFound)`).
 */
import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../common/errors';
import { type ProviderDomain, type UserUri, domainOf, isProviderDomain, parseMimiUri } from '../common/ids';
import { GatewayConfig } from '../config/gateway-config';
import {
  type IdentifierResponse,
  decodeAll,
  encodeValue,
  identifierRequestCodec,
  identifierResponseCodec,
} from '../mimi/wire';
import { peerError } from './key-material-refusal';
import { MIMI_REQUESTER, type MimiRequester } from './rooms.tokens';

/** How a provider's non-success answer is told, with the error code the inviter gets. */
const REFUSALS: Record<Exclude<IdentifierResponse['responseCode'], 'success'>, { code: ErrorCode; says: string }> = {
  notFound: { code: ErrorCode.NotFound, says: 'has no user' },
  ambiguous: { code: ErrorCode.Conflict, says: 'finds more than one user (or needs an exact handle) for' },
  forbidden: { code: ErrorCode.Forbidden, says: 'does not let us look up' },
  unsupportedField: { code: ErrorCode.BadValue, says: 'cannot search by handle for' },
};

const USAGE = 'write a MIMI user URI, xmpp:user@domain, user@domain or @user:homeserver';

/** The domain part of a human address, or undefined when it is none of the known forms. */
export function addressDomain(address: string): string | undefined {
  const a = address.trim();
  let domain: string | undefined;
  const matrixUri = /^matrix:u\/[^:/]+:([^/?#]+)/i.exec(a);
  if (matrixUri) domain = matrixUri[1];
  else if (a.startsWith('@')) domain = /^@[^:\s]+:(\S+)$/.exec(a)?.[1];
  else {
    const jid = /^(?:xmpp:)?[^@\s/:]+@([^/?#\s]+)(?:[/?#]\S*)?$/i.exec(a);
    domain = jid?.[1];
  }
  return domain === undefined || domain === '' ? undefined : domain.toLowerCase();
}

@Injectable()
export class AddressResolver {
  constructor(
    private readonly config: GatewayConfig,
    @Inject(MIMI_REQUESTER) private readonly requester: MimiRequester,
  ) {}

  /** The provider asked about an address of `domain`: the peer that claims it, else the domain itself. */
  providerFor(domain: string): ProviderDomain | undefined {
    const claimed = this.config.peers.find((p) => (p.addressDomains ?? []).some((d) => d.toLowerCase() === domain));
    if (claimed) return claimed.domain.toLowerCase() as ProviderDomain;
    return isProviderDomain(domain) ? (domain as ProviderDomain) : undefined;
  }

  /**
   * The MIMI user `address` names.
   * @throws GatewayError BadValue (not an address), NotFound / Forbidden / Conflict / BadValue with
   *   the provider's answer, PeerUnavailable (retryable) when the provider cannot be reached.
   */
  async resolve(address: string): Promise<UserUri> {
    const parsed = parseMimiUri(address.trim());
    if (parsed !== undefined) {
      if (parsed.kind !== 'u') throw new GatewayError(ErrorCode.BadValue, `${address} is not a MIMI user URI`);
      return address.trim() as UserUri;
    }
    const domain = addressDomain(address);
    if (domain === undefined) throw new GatewayError(ErrorCode.BadValue, `"${address}" is not an address: ${USAGE}`);
    const provider = this.providerFor(domain);
    if (provider === undefined) {
      throw new GatewayError(ErrorCode.BadValue, `no MIMI provider is known for ${domain} (the domain of ${address})`);
    }
    const body = encodeValue(
      {
        queryElements: [{ searchType: 'handle', searchValue: address.trim() }],
        idRequestExtensions: { componentData: [] },
      },
      identifierRequestCodec,
    );
    let answer: { status: number; body: Uint8Array };
    try {
      answer = await this.requester.request(provider, 'identifierQuery', provider, body);
    } catch (e) {
      const why = e instanceof GatewayError ? e.message : String(e);
      throw new GatewayError(ErrorCode.PeerUnavailable, `${address} cannot be looked up: ${why}`, {
        retryable: true,
        cause: e,
      });
    }
    if (answer.status < 200 || answer.status >= 300) {
      const detail = peerError(Buffer.from(answer.body).toString());
      const code =
        answer.status === 404
          ? ErrorCode.NotFound
          : answer.status === 403
            ? ErrorCode.Forbidden
            : ErrorCode.PeerUnavailable;
      throw new GatewayError(
        code,
        `${address} cannot be looked up: ${provider} answered HTTP ${answer.status}${detail ? `: ${detail}` : ''}`,
        { retryable: answer.status === 429 || answer.status >= 500 },
      );
    }
    let response: IdentifierResponse;
    try {
      response = decodeAll(answer.body, identifierResponseCodec);
    } catch (e) {
      throw new GatewayError(
        ErrorCode.PeerUnavailable,
        `${provider} sent an unreadable identifier answer for ${address}`,
        {
          cause: e,
        },
      );
    }
    if (response.responseCode !== 'success') {
      const refusal = REFUSALS[response.responseCode];
      throw new GatewayError(refusal.code, `${provider} ${refusal.says} ${address} (${response.responseCode})`);
    }
    const uris = [...new Set(response.uri)];
    if (uris.length !== 1) {
      throw new GatewayError(
        ErrorCode.Conflict,
        uris.length === 0
          ? `${provider} answered success but named no user for ${address}`
          : `${provider} names ${uris.length} users for ${address}: ${uris.join(', ')}`,
      );
    }
    const uri = uris[0]!;
    if (parseMimiUri(uri)?.kind !== 'u' || domainOf(uri) !== provider) {
      throw new GatewayError(ErrorCode.Forbidden, `${provider} named ${uri} for ${address}, not a user of ${provider}`);
    }
    return uri as UserUri;
  }
}
