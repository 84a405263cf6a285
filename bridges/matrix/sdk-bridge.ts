/**
 * The matrix-appservice-bridge `Bridge` behind MatrixBridge: ghosts (`Intent`) and registration
 * handling only, with no stores (durability is the core's) and no event queue (events come through
 * our own AppserviceServer). It does not contact the homeserver: the gateway starts while the
 * homeserver is down, and the start-up ping (homeserver-ping.ts) reports its state (RELIABILITY T10).
 */
import { AppServiceRegistration, Bridge, Logger as SdkLogger, type MembershipCache } from 'matrix-appservice-bridge';
import { ErrorCode, PlatformError, errorMessage } from '../../src/common/errors';

/** The registration the homeserver loaded (registration/generate-appservice-registration.ts). */
export interface MatrixRegistration {
  readonly id: string;
  readonly url: string | null;
  readonly as_token: string;
  readonly hs_token: string;
  readonly sender_localpart: string;
  readonly rate_limited?: boolean;
  readonly namespaces: {
    readonly users?: readonly { readonly regex: string; readonly exclusive: boolean }[];
    readonly aliases?: readonly { readonly regex: string; readonly exclusive: boolean }[];
    readonly rooms?: readonly { readonly regex: string; readonly exclusive: boolean }[];
  };
}

export interface SdkBridgeOptions {
  readonly homeserverUrl: string;
  readonly domain: string;
  readonly registration: MatrixRegistration;
  readonly membership: MembershipCache;
  readonly logLevel: 'error' | 'warn' | 'info' | 'debug';
}

/**
 * Initialise the SDK bridge (registration, intents); no request to the homeserver.
 * @throws PlatformError PlatformUnavailable when the SDK cannot initialise (the SDK bridge closed again)
 */
export async function startSdkBridge(opts: SdkBridgeOptions): Promise<Bridge> {
  SdkLogger.configure({ console: opts.logLevel });
  const reg = AppServiceRegistration.fromObject(opts.registration as never);
  const bridge = new Bridge({
    homeserverUrl: opts.homeserverUrl,
    domain: opts.domain,
    registration: reg,
    // Events come through our own AppserviceServer, never through the library's queue.
    controller: { onEvent: () => undefined },
    disableStores: true,
    disableContext: true,
    suppressEcho: false,
    escapeUserIds: false,
    membershipCache: opts.membership,
    intentOptions: {
      // Power levels are the core's decision: a ghost never has the bot raise its level.
      bot: { dontCheckPowerLevel: true },
      clients: { dontCheckPowerLevel: true },
    },
  });
  try {
    await bridge.initialise();
  } catch (e) {
    await bridge.close().catch(() => undefined);
    throw new PlatformError(
      ErrorCode.PlatformUnavailable,
      `Matrix bridge for ${opts.homeserverUrl}: ${errorMessage(e)}`,
      {
        cause: e,
      },
    );
  }
  return bridge;
}
