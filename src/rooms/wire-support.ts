/**
 * Small pieces of MIMI framing the rooms core builds: FanoutMessages for the outbox (protocol-06
 * §5.5), basic credentials as wire bytes, the hub's key-material request (§5.2) and RFC 9420
 * §5.1.3 EncryptWithLabel for /groupInfo (§5.6).
 */
import { domainOf } from '../common/ids';
import {
  type FanoutMessage,
  type KeyMaterialRequest,
  type KeyMaterialRequestTBS,
  TlsReader,
  TlsWriter,
  asCredential,
  asMlsMessage,
  asRequiredCapabilities,
  encodeValue,
  keyMaterialRequestTbsCodec,
} from '../mimi/wire';
import {
  APP_DATA_DICTIONARY_EXTENSION_TYPE,
  APP_DATA_UPDATE_PROPOSAL_TYPE,
  type HubExternalSender,
  frameMlsMessage,
} from '../mls';

/** The numeric cipher suite of our rooms (RFC 9420 §17.1: MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519). */
export const MIMI_CIPHERSUITE_ID = 1;

/** RFC 9420 §5.1.3 label of the /groupInfo encryption (protocol-06 §5.6). */
export const GROUP_INFO_LABEL = 'GroupInfo and ratchet_tree encryption';

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** RFC 9420 §5.3 credential type `basic`. */
const BASIC_CREDENTIAL = 1;

/** RFC 9420 Credential { uint16 credential_type = basic; opaque identity<V>; } carrying a MIMI URI. */
export function basicCredentialBytes(identity: string): Uint8Array {
  const w = new TlsWriter('Credential');
  w.uint16(BASIC_CREDENTIAL);
  w.opaque(utf8.encode(identity));
  return w.finish();
}

/** The identity of a basic credential, or `undefined` for any other credential. */
export function basicCredentialIdentity(bytes: Uint8Array): string | undefined {
  try {
    const r = new TlsReader(bytes, 'Credential');
    if (r.uint16() !== BASIC_CREDENTIAL) return undefined;
    const identity = r.opaque();
    if (r.remaining !== 0) return undefined;
    return utf8Strict.decode(identity);
  } catch {
    return undefined;
  }
}

/** The provider domain a credential identity (user URI or `mimi://<domain>`) belongs to. */
export function credentialDomain(identity: string | undefined): string | undefined {
  if (identity === undefined) return undefined;
  const provider = /^mimi:\/\/([^/?#]+)$/.exec(identity);
  return provider !== null ? provider[1]!.toLowerCase() : domainOf(identity);
}

export function commitFanout(staged: { readonly commit: Uint8Array }, timestamp: number): FanoutMessage {
  return {
    timestamp: BigInt(timestamp),
    message: asMlsMessage(staged.commit),
    messageKind: 'commit',
    externalProposals: [],
  };
}

/** protocol-06 §5.5: the Welcome (as an MLSMessage) with the ratchet tree beside it. */
export function welcomeFanout(welcome: Uint8Array, ratchetTree: Uint8Array, timestamp: number): FanoutMessage {
  return {
    timestamp: BigInt(timestamp),
    message: asMlsMessage(frameMlsMessage('mls_welcome', welcome)),
    messageKind: 'welcome',
    ratchetTreeOption: { representation: 'full', ratchetTree },
  };
}

export function applicationFanout(privateMessage: Uint8Array, timestamp: number): FanoutMessage {
  return { timestamp: BigInt(timestamp), message: asMlsMessage(privateMessage), messageKind: 'application' };
}

/**
 * The `required_capabilities` our rooms set (src/mls/gateway roomExtensions), as KeyMaterialRequest
 * wants them: RFC 9420 §7.2 RequiredCapabilities { extension_types<V>; proposal_types<V>; credential_types<V>; }.
 */
function roomRequiredCapabilities(): Uint8Array {
  const w = new TlsWriter('RequiredCapabilities');
  w.vector([APP_DATA_DICTIONARY_EXTENSION_TYPE], (v, t) => v.uint16(t));
  w.vector([APP_DATA_UPDATE_PROPOSAL_TYPE], (v, t) => v.uint16(t));
  w.vector([BASIC_CREDENTIAL], (v, t) => v.uint16(t));
  return w.finish();
}

/**
 * A signed KeyMaterialRequest (protocol-06 §5.2) made by the hub provider: the requester key and
 * credential are the hub's external-sender identity (`mimi://<domain>`), which signs the TBS with
 * label "KeyMaterialRequestTBS".
 */
export function hubKeyMaterialRequest(
  hub: HubExternalSender,
  fields: { requestingUser: string; targetUser: string; roomId: string },
): KeyMaterialRequest {
  const tbs: KeyMaterialRequestTBS = {
    protocol: 'mls10',
    requestingUser: fields.requestingUser,
    targetUser: fields.targetUser,
    roomId: fields.roomId,
    acceptableCiphersuites: [MIMI_CIPHERSUITE_ID],
    requiredCapabilities: asRequiredCapabilities(roomRequiredCapabilities()),
    requesterSignatureKey: hub.signaturePublicKey,
    requesterCredential: asCredential(basicCredentialBytes(`mimi://${hub.domain}`)),
  };
  const signature = hub.signWithLabel('KeyMaterialRequestTBS', encodeValue(tbs, keyMaterialRequestTbsCodec));
  return { ...tbs, keyMaterialRequestSignature: signature };
}
