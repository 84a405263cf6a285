/**
 * protocol-06 §5.7 explicit consent (issue 10 item 5), as the target user's provider and as the
 * requester's provider.
 *
 * `/requestConsent/{targetDomain}` (a peer's user asks to add one of our legacy users):
 * - refused: the path is not our domain (BadValue 400), the operation is not request/cancel
 *   (BadValue), the requester is not a user of the calling provider (Forbidden 403), the target is
 *   not a user of one of our platforms (NotFound 404);
 * - answered by an `/updateConsent` to the requester's provider, per the `consent:` config
 *   (`ConsentConfig`): a grant at once within a linked room where the requester is a participant;
 *   otherwise the user is asked through the bridge's bot (`ConsentPrompts`) and the answer sent as
 *   a grant or a revoke, or (`otherwise: deny`) a revoke at once. A cancel withdraws a pending ask.
 *
 * `/updateConsent/{requesterDomain}` (a peer tells us its user granted or revoked consent for one
 * of ours): refused like the above with the roles swapped; recorded (in memory) and logged.
 *
 * The answers are sent once, after the 201, not through the outbox (a lost answer is not retried).
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ErrorCode, GatewayError, ValidationError, errorMessage } from '../../common/errors';
import { type ProviderDomain, type RoomUri, type UserUri, domainOf, parseMimiUri } from '../../common/ids';
import { GatewayConfig } from '../../config/gateway-config';
import { type ConsentEntry, type ConsentScope, consentEntryCodec, encodeValue } from '../../mimi/wire';
import { BANNED_ROLE_INDEX } from '../../mls';
import { RoomRepository } from '../../persistence/repositories/room.repository';
import { type LegacyUserRef, canAskConsent } from '../../ports';
import { parseLegacyUserUri } from '../identity';
import { RoomLocks } from '../room-locks';
import { participantOf } from '../room-policy';
import { RoomSupport } from '../room-support';
import { MIMI_REQUESTER, type MimiRequester } from '../rooms.tokens';

const scopeKey = (s: ConsentScope): string => `${s.requesterUri}\n${s.targetUri}\n${s.roomId ?? ''}`;

@Injectable()
export class ConsentService {
  private readonly logger = new Logger(ConsentService.name);
  /** Asks waiting for the user's answer, by scope (a cancel removes them). */
  private readonly pending = new Set<string>();
  /** What peers told us of their users' consent, by scope. */
  private readonly received = new Map<string, 'grant' | 'revoke'>();
  /** The answers in flight (tests and shutdown wait for them). */
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly config: GatewayConfig,
    private readonly support: RoomSupport,
    private readonly rooms: RoomRepository,
    private readonly locks: RoomLocks,
    @Inject(MIMI_REQUESTER) private readonly requester: MimiRequester,
  ) {}

  /** protocol-06 §5.7 requestConsent. Resolves once the request is taken (the endpoint answers 201). */
  async requestConsent(peer: ProviderDomain, targetDomain: ProviderDomain, entry: ConsentEntry): Promise<void> {
    if (targetDomain !== this.support.domain) throw new ValidationError(`${targetDomain} is not this provider`);
    if (entry.consentOperation !== 'request' && entry.consentOperation !== 'cancel') {
      throw new ValidationError(`requestConsent takes request or cancel, not ${entry.consentOperation}`);
    }
    this.checkUser(entry.requesterUri, peer, 'requesterUri');
    const target = this.ourUser(entry.targetUri);
    const key = scopeKey(entry);
    if (entry.consentOperation === 'cancel') {
      this.pending.delete(key);
      return;
    }
    if (this.config.consent.autoGrantLinkedRooms && (await this.inLinkedRoom(entry))) {
      this.later(this.answer(peer, entry, 'grant', 'a participant of a linked room'));
      return;
    }
    if (this.config.consent.otherwise === 'deny') {
      this.later(this.answer(peer, entry, 'revoke', 'the consent policy denies it'));
      return;
    }
    const bridge = this.support.bridge(target.platform);
    if (!canAskConsent(bridge)) {
      this.logger.warn(
        `consent of ${entry.targetUri} for ${entry.requesterUri}: the ${target.platform} bridge cannot ask`,
      );
      return;
    }
    this.pending.add(key);
    this.later(
      bridge.askConsent(target, entry.requesterUri, entry.roomId).then(async (answer) => {
        if (!this.pending.delete(key) || answer === undefined) return;
        await this.answer(peer, entry, answer === 'grant' ? 'grant' : 'revoke', `${entry.targetUri} answered`);
      }),
    );
  }

  /** protocol-06 §5.7 updateConsent. */
  updateConsent(peer: ProviderDomain, requesterDomain: ProviderDomain, entry: ConsentEntry): void {
    if (requesterDomain !== this.support.domain) throw new ValidationError(`${requesterDomain} is not this provider`);
    if (entry.consentOperation !== 'grant' && entry.consentOperation !== 'revoke') {
      throw new ValidationError(`updateConsent takes grant or revoke, not ${entry.consentOperation}`);
    }
    this.checkUser(entry.targetUri, peer, 'targetUri');
    this.ourUser(entry.requesterUri);
    const before = this.received.get(scopeKey(entry));
    this.received.set(scopeKey(entry), entry.consentOperation);
    this.logger.log(
      `consent: ${entry.targetUri} ${entry.consentOperation === 'grant' ? 'granted' : 'revoked'} consent for ` +
        `${entry.requesterUri}${entry.roomId ? ` in ${entry.roomId}` : ''}${before ? ` (was: ${before})` : ''}`,
    );
  }

  /** What the target's provider last told us for this scope (updateConsent), if anything. */
  consentOf(scope: ConsentScope): 'grant' | 'revoke' | undefined {
    return this.received.get(scopeKey(scope));
  }

  /** Resolves when every answer started so far was sent (or failed). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  private checkUser(uri: string, peer: ProviderDomain, field: string): void {
    if (parseMimiUri(uri)?.kind !== 'u') throw new ValidationError(`${field} is not a MIMI user URI`);
    if (domainOf(uri) !== peer) throw new GatewayError(ErrorCode.Forbidden, `${uri} is not a user of ${peer}`);
  }

  /** @throws GatewayError NotFound when `uri` is not a user of one of our platforms. */
  private ourUser(uri: string): LegacyUserRef {
    const legacy = domainOf(uri) === this.support.domain ? parseLegacyUserUri(uri as UserUri) : undefined;
    const known = legacy !== undefined && this.support.allBridges().some((b) => b.platform === legacy.platform);
    if (!known) throw new GatewayError(ErrorCode.NotFound, `${uri} is not a user here`);
    return { platform: legacy.platform, userId: legacy.userId };
  }

  private async inLinkedRoom(entry: ConsentEntry): Promise<boolean> {
    if (entry.roomId === undefined || parseMimiUri(entry.roomId)?.kind !== 'r') return false;
    const roomUri = entry.roomId as RoomUri;
    if ((await this.rooms.findByUri(undefined, roomUri)) === undefined) return false;
    const view = await this.locks.run(roomUri, () => this.support.groupView(roomUri));
    const p = participantOf(view?.participants ?? [], entry.requesterUri);
    return p !== undefined && p.roleIndex !== BANNED_ROLE_INDEX;
  }

  private async answer(
    peer: ProviderDomain,
    scope: ConsentScope,
    operation: 'grant' | 'revoke',
    why: string,
  ): Promise<void> {
    const entry: ConsentEntry =
      operation === 'grant'
        ? {
            ...scopeOf(scope),
            consentOperation: 'grant',
            clientKeyPackages: [],
            consentExtensions: { componentData: [] },
          }
        : { ...scopeOf(scope), consentOperation: 'revoke', consentExtensions: { componentData: [] } };
    try {
      const res = await this.requester.request(peer, 'updateConsent', peer, encodeValue(entry, consentEntryCodec));
      this.logger.log(
        `consent of ${scope.targetUri} for ${scope.requesterUri}: ${operation} (${why}), HTTP ${res.status}`,
      );
    } catch (e) {
      this.logger.warn(
        `consent of ${scope.targetUri} for ${scope.requesterUri}: ${operation} not sent: ${errorMessage(e)}`,
      );
    }
  }

  private later(p: Promise<void>): void {
    const tracked = p.catch((e: unknown) => this.logger.warn(`consent: ${errorMessage(e)}`));
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
  }
}

function scopeOf(s: ConsentScope): ConsentScope {
  return s.roomId === undefined
    ? { requesterUri: s.requesterUri, targetUri: s.targetUri }
    : { requesterUri: s.requesterUri, targetUri: s.targetUri, roomId: s.roomId };
}
