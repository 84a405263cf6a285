/**
 * What the hub and followers read of a handshake PublicMessage WITHOUT group secrets: of a
 * stand-alone proposal (protocol-06 §5.3: a follower's proposal on `/update`) its type and sender;
 * of a commit its `authenticated_data` (why the hub removed everybody, on unlink). Verification
 * (signature, membership tag) is the group's (`GatewayGroup.processMessage`).
 */
import { decodeMlsMessage } from './core/framing';
import { ContentType, SenderType, WireFormat } from './core/structs';
import { MlsErrorReason, MlsGroupError } from './mls.errors';

export interface ProposalInfo {
  /** RFC 9420 / mls-extensions proposal type (SelfRemove is 0x000a). */
  readonly proposalType: number;
  /** The sender's leaf, when a member sent it. */
  readonly senderLeaf?: number;
  /** RFC 9420 SenderType (member 1, external 2, new_member_proposal 3). */
  readonly senderType: number;
}

/**
 * @throws MlsGroupError(Malformed) when `bytes` is not an MLSMessage carrying a proposal as a
 *         PublicMessage (a PrivateMessage proposal is opaque to the hub).
 */
export function inspectProposal(bytes: Uint8Array): ProposalInfo {
  let message;
  try {
    message = decodeMlsMessage(bytes);
  } catch (e) {
    throw new MlsGroupError(MlsErrorReason.Malformed, `not an MLSMessage: ${(e as Error).message}`);
  }
  if (message.wireFormat !== WireFormat.mls_public_message) {
    throw new MlsGroupError(MlsErrorReason.Malformed, 'a proposal to the hub must be a PublicMessage');
  }
  const content = message.publicMessage.content;
  if (content.contentType !== ContentType.proposal) {
    throw new MlsGroupError(MlsErrorReason.Malformed, 'the message is not a proposal');
  }
  const sender = content.sender;
  return {
    proposalType: content.proposal.proposalType,
    senderType: sender.senderType,
    ...(sender.senderType === SenderType.member ? { senderLeaf: sender.leafIndex } : {}),
  };
}

/**
 * The `authenticated_data` of a commit or proposal sent as a PublicMessage (signed by its sender,
 * readable without group secrets), or undefined for anything else.
 */
export function handshakeAuthenticatedData(bytes: Uint8Array): Uint8Array | undefined {
  try {
    const message = decodeMlsMessage(bytes);
    if (message.wireFormat !== WireFormat.mls_public_message) return undefined;
    return message.publicMessage.content.authenticatedData;
  } catch {
    return undefined;
  }
}
