/**
 * Who may call the provisioning API (issue 14). In order:
 * 1. an `Origin` header (a browser's request) must name this listener, and `Sec-Fetch-Site` must
 *    not say cross-site: a web page open in a local browser cannot drive the gateway;
 * 2. `Host` must name this listener (its bound address, the loopback names when bound to
 *    loopback, `admin.allowedHosts`): DNS rebinding gets nowhere;
 * 3. the bearer token of `admin.tokenFile`; without one, every call is refused unless the config
 *    opts out explicitly (`admin.insecureNoProvisioningToken`, logged at start).
 * Refusals are 403 MIMI_FORBIDDEN (1, 2, no token configured) or 401 MIMI_UNAUTHENTICATED (a
 * missing or wrong token).
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../../common/errors';
import type { ProvisioningAuth } from '../../config/provisioning-token';
import type { RoomsService } from '../../rooms';
import { hostHeaderName, originHostName } from './admin-hosts';

export const PROVISIONING = Symbol('PROVISIONING');

/** What the admin application needs from the main one for provisioning. */
export interface ProvisioningDeps {
  readonly rooms: RoomsService;
  /** `token`: required on every call; `disabled`: every call refused; `open`: no token (tests only). */
  readonly auth: ProvisioningAuth;
  /** Host names `Host` and `Origin` may name (adminHostNames). */
  readonly hostNames: ReadonlySet<string>;
}

@Injectable()
export class ProvisioningGuard implements CanActivate {
  constructor(@Inject(PROVISIONING) private readonly deps: ProvisioningDeps) {}

  canActivate(context: ExecutionContext): boolean {
    const headers = context.switchToHttp().getRequest<{ headers: IncomingHttpHeaders }>().headers;
    this.checkOrigin(headers);
    const host = hostHeaderName(headers.host);
    if (host === undefined || !this.deps.hostNames.has(host)) {
      throw new GatewayError(
        ErrorCode.Forbidden,
        `Host ${JSON.stringify(headers.host ?? '')} is not this admin listener (add it to admin.allowedHosts)`,
      );
    }
    this.checkToken(headers.authorization);
    return true;
  }

  private checkOrigin(headers: IncomingHttpHeaders): void {
    if (headers['sec-fetch-site'] === 'cross-site') {
      throw new GatewayError(ErrorCode.Forbidden, 'cross-site requests to the provisioning API are refused');
    }
    const origin = headers.origin;
    if (origin === undefined) return;
    const name = originHostName(origin);
    if (name === undefined || !this.deps.hostNames.has(name)) {
      throw new GatewayError(ErrorCode.Forbidden, `requests from Origin ${origin} to the provisioning API are refused`);
    }
  }

  private checkToken(header: string | undefined): void {
    const auth = this.deps.auth;
    if (auth.kind === 'open') return;
    if (auth.kind === 'disabled') {
      throw new GatewayError(
        ErrorCode.Forbidden,
        'the provisioning API is off: no admin.tokenFile is configured (`mimi-gateway init` writes one)',
      );
    }
    const given = Buffer.from(/^Bearer (.+)$/.exec(header ?? '')?.[1] ?? '');
    const expected = Buffer.from(auth.token);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new GatewayError(ErrorCode.Unauthenticated, 'a valid bearer token is required');
    }
  }
}
