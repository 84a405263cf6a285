/**
 * A `/keyMaterial` answer (protocol-06 §5.2) checked before any of its KeyPackages is used or
 * passed on: each KeyPackage must be valid (RFC 9420 §10.1, within its lifetime), of the target
 * user, and cover the room's `required_capabilities` (RFC 9420 §11.1); a client whose KeyPackage
 * does not is told as `nothingCompatible`. The user status follows: all usable → as answered,
 * some → `partialSuccess`, none while some were incompatible → `noCompatibleMaterial` (the
 * requester learns the reason, protocol-06 §5.2).
 */
import { ValidationError, errorMessage } from '../common/errors';
import { type ProviderDomain, type UserUri, domainOf } from '../common/ids';
import {
  type ClientKeyMaterial,
  type KeyMaterialRequest,
  type KeyMaterialResponse,
  decodeAll,
  encodeValue,
  keyMaterialRequestTbsCodec,
} from '../mimi/wire';
import { verifyWithLabel } from '../mls';
import { supportsRequiredCapabilities } from '../mls/core/group/leaf-validation';
import { type RequiredCapabilities, requiredCapabilitiesCodec } from '../mls/core/structs/extensions';
import { checkKeyPackage } from '../mls/gateway/identities';
import type { KeyMaterialOutcome } from './key-material-refusal';
import { basicCredentialIdentity, credentialDomain } from './wire-support';

/** A KeyPackage that passed the checks. */
interface CheckedKeyPackage {
  readonly bytes: Uint8Array;
  readonly ref: Uint8Array;
  readonly user: UserUri;
  /** The leaf's `not_after`, ms since the epoch. */
  readonly notAfter: number;
}

export interface CheckedKeyMaterial {
  /** The answer as passed on: failing clients rewritten, the user status following them. */
  readonly response: KeyMaterialResponse;
  readonly usable: readonly CheckedKeyPackage[];
  /** Why nothing is usable, in the terms `keyMaterialRefusal` tells (undefined when something is). */
  readonly outcome?: KeyMaterialOutcome;
  /** What was wrong with the clients left out, for the log. */
  readonly problems: readonly string[];
}

const USABLE_USER_STATUS = new Set<KeyMaterialResponse['userStatus']>(['success', 'partialSuccess']);

export function checkKeyMaterial(
  response: KeyMaterialResponse,
  target: UserUri,
  required: RequiredCapabilities | undefined,
  now: number,
): CheckedKeyMaterial {
  if (!USABLE_USER_STATUS.has(response.userStatus)) {
    return {
      response: { ...response, clients: response.userStatus === 'noCompatibleMaterial' ? response.clients : [] },
      usable: [],
      outcome: { kind: 'user', userStatus: response.userStatus },
      problems: [],
    };
  }
  const usable: CheckedKeyPackage[] = [];
  const problems: string[] = [];
  let incompatible = 0;
  const clients = response.clients.map((c): ClientKeyMaterial => {
    if (c.clientStatus !== 'success') return c;
    let checked;
    try {
      checked = checkKeyPackage(c.keyPackage, now);
    } catch (e) {
      problems.push(`${c.clientUri}: invalid KeyPackage: ${errorMessage(e)}`);
      return { clientStatus: 'keyMaterialExhausted', clientUri: c.clientUri };
    }
    if (checked.user !== target) {
      problems.push(`${c.clientUri}: a KeyPackage of ${checked.user}, not of ${target}`);
      return { clientStatus: 'keyMaterialExhausted', clientUri: c.clientUri };
    }
    if (required !== undefined && !supportsRequiredCapabilities(checked.keyPackage.leafNode.capabilities, required)) {
      incompatible += 1;
      problems.push(`${c.clientUri}: its KeyPackage lacks the room's required capabilities`);
      return { clientStatus: 'nothingCompatible', clientUri: c.clientUri };
    }
    const leaf = checked.keyPackage.leafNode;
    const notAfter = 'lifetime' in leaf ? Number(leaf.lifetime.notAfter) * 1000 : now;
    usable.push({ bytes: c.keyPackage, ref: checked.ref, user: checked.user, notAfter });
    return c;
  });
  if (usable.length === 0) {
    const userStatus = incompatible > 0 ? 'noCompatibleMaterial' : response.userStatus;
    return {
      response: { ...response, userStatus, clients },
      usable,
      outcome:
        incompatible > 0
          ? { kind: 'user', userStatus: 'noCompatibleMaterial' }
          : { kind: 'clients', clientStatuses: clients.map((c) => c.clientStatus) },
      problems,
    };
  }
  const userStatus = usable.length === clients.length ? response.userStatus : 'partialSuccess';
  return { response: { ...response, userStatus, clients }, usable, problems };
}

/**
 * The provider that made a KeyMaterialRequest, when its signature verifies and its requester
 * credential (`mimi://<provider>` or a user URI) and `requestingUser` name the same provider;
 * undefined otherwise.
 */
export function requestOrigin(request: KeyMaterialRequest): ProviderDomain | undefined {
  const signed = verifyWithLabel(
    request.requesterSignatureKey,
    'KeyMaterialRequestTBS',
    encodeValue(request, keyMaterialRequestTbsCodec),
    request.keyMaterialRequestSignature,
  );
  const origin = credentialDomain(basicCredentialIdentity(request.requesterCredential));
  if (!signed || origin === undefined || domainOf(request.requestingUser) !== origin) return undefined;
  return origin as ProviderDomain;
}

/**
 * Whether the request may come from `peer`: made by `peer` itself, or by a follower of a room
 * `peer` hubs and passed on by it (protocol-06 §5.2: "KeyPackages ... MUST be sent via the hub
 * provider of whatever room they will be used in").
 */
export function requestCameFrom(peer: ProviderDomain, request: KeyMaterialRequest): boolean {
  const origin = requestOrigin(request);
  if (origin === undefined) return false;
  return origin === peer || (request.roomId !== '' && domainOf(request.roomId) === peer);
}

/** The request's RequiredCapabilities. @throws ValidationError when they do not decode */
export function requestedCapabilities(request: KeyMaterialRequest): RequiredCapabilities {
  try {
    return decodeAll(request.requiredCapabilities, requiredCapabilitiesCodec);
  } catch (e) {
    throw new ValidationError(`requiredCapabilities: ${errorMessage(e)}`);
  }
}
