/**
 * protocol-06 §5.7 (`/requestConsent/{targetDomain}`, `/updateConsent/{requesterDomain}`) and §5.9
 * (`/reportAbuse/{roomId}`), thin like MimiEndpointsController: authenticate the peer, parse the
 * path and the body, call the rooms core; each answers 201 without a body. Decisions live in
 * src/rooms (consent/consent.ts, abuse/abuse-reports.ts).
 */
import { Body, Controller, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import type { ProviderDomain, RoomUri } from '../../common/ids';
import {
  MIMI_ROUTES,
  MIMI_ROUTE_PARAM,
  MimiPeer,
  MimiPeerGuard,
  MimiRateLimitGuard,
  ParseDomainPipe,
  ParseRoomUriPipe,
  RateLimited,
} from '../../mimi/transport';
import { abuseReportCodec, consentEntryCodec, decodeAll } from '../../mimi/wire';
import { AbuseReports, ConsentService } from '../../rooms';

@Controller()
@UseGuards(MimiPeerGuard, MimiRateLimitGuard)
export class MimiConsentAbuseController {
  constructor(
    private readonly consent: ConsentService,
    private readonly abuse: AbuseReports,
  ) {}

  /** protocol-06 §5.7: a peer's user asks consent of one of ours (or cancels the ask). */
  @Post(MIMI_ROUTES.requestConsent)
  @RateLimited('requestConsent')
  @HttpCode(201)
  async requestConsent(
    @MimiPeer() peer: ProviderDomain,
    @Param(MIMI_ROUTE_PARAM.requestConsent, ParseDomainPipe) targetDomain: ProviderDomain,
    @Body() body: Buffer,
  ): Promise<void> {
    await this.consent.requestConsent(peer, targetDomain, decodeAll(body, consentEntryCodec));
  }

  /** protocol-06 §5.7: a peer's user granted or revoked consent for one of ours. */
  @Post(MIMI_ROUTES.updateConsent)
  @RateLimited('updateConsent')
  @HttpCode(201)
  updateConsent(
    @MimiPeer() peer: ProviderDomain,
    @Param(MIMI_ROUTE_PARAM.updateConsent, ParseDomainPipe) requesterDomain: ProviderDomain,
    @Body() body: Buffer,
  ): void {
    this.consent.updateConsent(peer, requesterDomain, decodeAll(body, consentEntryCodec));
  }

  /** protocol-06 §5.9 (hub): delivered to the legacy room's moderators. */
  @Post(MIMI_ROUTES.reportAbuse)
  @RateLimited('reportAbuse')
  @HttpCode(201)
  async reportAbuse(
    @MimiPeer() peer: ProviderDomain,
    @Param(MIMI_ROUTE_PARAM.reportAbuse, ParseRoomUriPipe) roomUri: RoomUri,
    @Body() body: Buffer,
  ): Promise<void> {
    await this.abuse.report(peer, roomUri, decodeAll(body, abuseReportCodec));
  }
}
