/**
 * The audit line of a hub refusal (RELIABILITY T24): a follower asked the hub to admit a message or
 * a change and was refused `notAllowed`. Always a warning, as one structured record, so that an
 * operator can find who (the authenticated peer) claimed to act for whom, in which room, and why
 * it was refused.
 */
import type { LoggerService } from '@nestjs/common';
import type { ProviderDomain, RoomUri, UserUri } from '../../common/ids';
import type { GatewayGroupSummary, inspectMlsMessage } from '../../mls';

type MlsMessageHeader = ReturnType<typeof inspectMlsMessage>;
type GatewayMember = GatewayGroupSummary['members'][number];

export interface HubRefusal {
  /** The MIMI endpoint refused. */
  readonly endpoint: 'submitMessage' | 'update';
  /** The provider the mutual TLS authenticated. */
  readonly peer: ProviderDomain;
  readonly roomUri: RoomUri;
  /** The user the request acts for (a submission's sendingUri, a commit's committer), when known. */
  readonly claimedSender: string | undefined;
  readonly reason: string;
}

/** The record logged for `refusal`, `audit: 'hub-refusal'` marking it as an audit line. */
function hubRefusalRecord(refusal: HubRefusal): Record<string, string | undefined> {
  return { audit: 'hub-refusal', ...refusal };
}

/** Log `refusal` as a warning on `logger`. */
export function auditRefusal(logger: LoggerService, refusal: HubRefusal): void {
  logger.warn(hubRefusalRecord(refusal));
}

/**
 * The user whose leaf a member-sent message names as its sender (unverified: a claim, for the audit
 * line before the signature is checked), or undefined (encrypted sender, external, unknown leaf).
 */
export function claimedMember(header: MlsMessageHeader, members: readonly GatewayMember[]): UserUri | undefined {
  const sender = header.sender;
  if (sender?.type !== 'member') return undefined;
  return members.find((m) => m.leafIndex === sender.leafIndex)?.user;
}
