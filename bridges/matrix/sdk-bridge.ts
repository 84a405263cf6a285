/**
 * The matrix-appservice-bridge `Bridge` behind MatrixBridge: ghosts (`Intent`) and registration
 * handling only, with no stores (durability is the core's) and no event queue (events come through
 * our own AppserviceServer). Started only once the homeserver answers.
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
 * Initialise the SDK bridge and check that the homeserver answers /versions.
 * @throws PlatformError PlatformUnavailable when it does not (the SDK bridge closed again)
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
    const versions = await fetch(`${opts.homeserverUrl}/_matrix/client/versions`, {
      signal: AbortSignal.timeout(10_000),
    });
    if (!versions.ok) throw new Error(`homeserver answered ${versions.status} to /versions`);
  } catch (e) {
    await bridge.close().catch(() => undefined);
    throw new PlatformError(
      ErrorCode.PlatformUnavailable,
      `homeserver ${opts.homeserverUrl} unreachable: ${errorMessage(e)}`,
      {
        cause: e,
      },
    );
  }
  return bridge;
}
