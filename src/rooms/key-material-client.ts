/**
 * The client side of `/keyMaterial` (protocol-06 §5.2): a signed request sent to `via` (the target
 * user's provider when we are the room's hub, the room's hub when we follow it: "KeyPackages ...
 * MUST be sent via the hub provider"), its answer checked (key-material-check.ts) against the
 * room's `required_capabilities`. Used by the hub for invites on its platform (hub.service.ts),
 * by followers for invites in mirror rooms (follower/follower-invites.ts), and by the hub when it
 * passes a follower's request on (hub/key-material-proxy.ts).
 */
import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../common/errors';
import { type ProviderDomain, type UserUri } from '../common/ids';
import {
  type KeyMaterialRequest,
  type KeyMaterialResponse,
  decodeAll,
  encodeValue,
  keyMaterialRequestCodec,
  keyMaterialResponseCodec,
} from '../mimi/wire';
import type { Extension } from '../mls/core/structs/basics';
import {
  type RequiredCapabilities,
  findExtension,
  requiredCapabilitiesExtension,
} from '../mls/core/structs/extensions';
import { type CheckedKeyMaterial, checkKeyMaterial } from './key-material-check';
import { MIMI_REQUESTER, type MimiRequester } from './rooms.tokens';

/** The answer of `via`: checked, or its HTTP refusal (non-2xx that is not worth a retry). */
export type FetchedKeyMaterial =
  CheckedKeyMaterial | { readonly response?: undefined; readonly httpStatus: number; readonly body: string };

/** The `required_capabilities` of a GroupContext (RFC 9420 §11.1), if it has any. */
export function roomRequiredCapabilities(extensions: readonly Extension[]): RequiredCapabilities | undefined {
  return findExtension(extensions, requiredCapabilitiesExtension);
}

@Injectable()
export class KeyMaterialClient {
  constructor(@Inject(MIMI_REQUESTER) private readonly requester: MimiRequester) {}

  /**
   * POST /keyMaterial/{target} to `via` with `request`, the answer checked for `target`.
   * @throws GatewayError PeerUnavailable (retryable) when `via` answers 5xx or 429, or not at all;
   *   Malformed when its answer does not decode
   */
  async fetch(
    via: ProviderDomain,
    request: KeyMaterialRequest,
    required: RequiredCapabilities | undefined,
    now: number,
  ): Promise<FetchedKeyMaterial> {
    const target = request.targetUser as UserUri;
    const answer = await this.requester.request(
      via,
      'keyMaterial',
      target,
      encodeValue(request, keyMaterialRequestCodec),
    );
    if (answer.status >= 500 || answer.status === 429) {
      throw new GatewayError(
        ErrorCode.PeerUnavailable,
        `keyMaterial for ${target} from ${via}: HTTP ${answer.status}`,
        {
          retryable: true,
        },
      );
    }
    if (answer.status < 200 || answer.status >= 300) {
      return { httpStatus: answer.status, body: Buffer.from(answer.body).toString() };
    }
    let response: KeyMaterialResponse;
    try {
      response = decodeAll(answer.body, keyMaterialResponseCodec);
    } catch (e) {
      throw new GatewayError(ErrorCode.Malformed, `keyMaterial for ${target} from ${via}: unreadable answer`, {
        cause: e,
      });
    }
    return checkKeyMaterial(response, target, required, now);
  }
}
