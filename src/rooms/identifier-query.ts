/**
 * protocol-06 §5.8 `/identifierQuery/{domain}` as the target provider: which MIMI user URI a
 * handle or nick names among the legacy users this gateway serves.
 *
 * - `handle` (the address in its platform's own form or URI: `xmpp:bob@b.test`, `@carol:hs`,
 *   `matrix:u/carol:hs`) and `nick` (the user part) are asked of every bridge that can look users
 *   up (`UserDirectory`); the found users get their URI (`legacyUserUri`).
 * - Several query elements must all match (AND): the URIs found for each are intersected.
 * - The other search types (email, phone, names, profile, OIDC claims, vCard fields) are
 *   `unsupportedField`: the platforms give us nothing to search them by.
 * - A request without query elements is `forbidden` (no listing of our users).
 * - `notFound`: the draft has no place for a reason, so the code alone goes back; the log has it.
 *
 * Who may ask: any authenticated peer, at the rate `limits.requests.identifierQuery` allows.
 */
import { Injectable, Logger } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../common/errors';
import type { ProviderDomain, UserUri } from '../common/ids';
import type { IdentifierRequest, IdentifierResponse, QueryElement } from '../mimi/wire';
import { type UserLookup, hasUserDirectory } from '../ports';
import { legacyUserUri } from './identity';
import { RoomSupport } from './room-support';

/** The search types a bridge can answer. */
const SEARCHABLE: ReadonlySet<QueryElement['searchType']> = new Set(['handle', 'nick']);

/** A found user: its URI and, when the platform knows it, its display name. */
interface Found {
  readonly uri: UserUri;
  readonly displayName?: string;
}

@Injectable()
export class IdentifierQueries {
  private readonly logger = new Logger(IdentifierQueries.name);

  constructor(private readonly support: RoomSupport) {}

  /**
   * Answer `request` from `peer` for our provider `domain`.
   * @throws GatewayError NotFound when `domain` is not this provider (the query went to the wrong
   *   gateway); PlatformError when a bridge cannot be asked now (retryable).
   */
  async answer(peer: ProviderDomain, domain: ProviderDomain, request: IdentifierRequest): Promise<IdentifierResponse> {
    if (domain !== this.support.domain) {
      throw new GatewayError(ErrorCode.NotFound, `this provider is ${this.support.domain}, not ${domain}`);
    }
    const elements = request.queryElements;
    if (elements.length === 0) return reply('forbidden');
    if (elements.some((e) => !SEARCHABLE.has(e.searchType))) return reply('unsupportedField');
    let matches: Map<UserUri, Found> | undefined;
    for (const element of elements) {
      const found = await this.search(element as { searchType: 'handle' | 'nick'; searchValue: string });
      matches = matches === undefined ? found : new Map([...matches].filter(([uri]) => found.has(uri)));
      if (matches.size === 0) break;
    }
    const results = [...(matches ?? new Map<UserUri, Found>()).values()];
    this.logger.log(
      `identifierQuery from ${peer}: ${elements.map((e) => `${e.searchType}=${JSON.stringify(e.searchValue)}`).join(' & ')}` +
        ` → ${results.length === 0 ? 'notFound' : results.map((r) => r.uri).join(', ')}`,
    );
    if (results.length === 0) return reply('notFound');
    return {
      responseCode: 'success',
      uri: results.map((r) => r.uri),
      foundProfiles: results.map((r) => ({
        stableUri: r.uri,
        fields:
          r.displayName === undefined
            ? []
            : [
                {
                  fieldSource: 'vcardField' as const,
                  fieldName: 'FN',
                  fieldValue: new TextEncoder().encode(r.displayName),
                },
              ],
      })),
      idResponseExtensions: { componentData: [] },
    };
  }

  /** The users of every bridge that one element names. */
  private async search(element: { searchType: 'handle' | 'nick'; searchValue: string }): Promise<Map<UserUri, Found>> {
    const found = new Map<UserUri, Found>();
    for (const bridge of this.support.allBridges()) {
      if (!hasUserDirectory(bridge)) continue;
      const result: UserLookup = await bridge.lookupUser({ type: element.searchType, value: element.searchValue });
      if (result.kind !== 'found') {
        if (result.kind === 'notFound') {
          this.logger.debug(`${bridge.platform}: ${element.searchValue}: ${result.reason}`);
        }
        continue;
      }
      const uri = legacyUserUri(this.support.domain, bridge.platform, result.userId);
      found.set(uri, { uri, ...(result.displayName !== undefined ? { displayName: result.displayName } : {}) });
    }
    return found;
  }
}

function reply(responseCode: Exclude<IdentifierResponse['responseCode'], 'success'>): IdentifierResponse {
  return { responseCode, uri: [], foundProfiles: [], idResponseExtensions: { componentData: [] } };
}
