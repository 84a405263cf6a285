/** What XmppBridge is built from (xmpp.module.ts fills it from the `xmpp` config section). */
import type { NativeUsers } from './muc/mention-directory';
import type { StateStore } from './state/bridge-state';
import type { XmppTransport } from './session/xmpp-transport';

export interface XmppBridgeOptions {
  readonly mode: 'component' | 'relay';
  readonly transport: XmppTransport;
  /** component mode: the component's domain. */
  readonly componentDomain?: string;
  readonly botNick: string;
  /** MUCs linked at start through BridgeHost.link. */
  readonly links?: readonly string[];
  /** MUC service for createMirrorRoom. */
  readonly mucService?: string;
  readonly attachmentHosts?: readonly string[];
  /** Native XMPP users ↔ their MIMI user URIs (mentions of them); without it only puppets are mentioned. */
  readonly nativeUsers?: NativeUsers;
  /** The XEP-0363 upload service (media/http-upload.ts): attachments both ways. */
  readonly httpUpload?: { readonly service: string; readonly downloadUrlPrefix: string };
  /** The XMPP domains of the users this gateway speaks for (`/identifierQuery`); default: the parents of mucService and componentDomain. */
  readonly userDomains?: readonly string[];
  /** Largest stanza sent (bytes); default: Prosody's limit for the mode. */
  readonly maxStanzaBytes?: number;
  /**
   * Where the durable state is kept. Default: the core's database (BridgeHost.stateStore), after
   * importing `journalFile` once; in memory when the host has no store.
   */
  readonly stateStore?: StateStore;
  /** A JSON journal of earlier versions (`xmpp.stateFile`): imported into the database once, then renamed `.imported`. */
  readonly journalFile?: string;
  readonly connectTimeoutMs?: number;
  readonly joinTimeoutMs?: number;
  readonly iqTimeoutMs?: number;
  /** XEP-0410 self-ping period of the bot in each MUC; 0 disables it. */
  readonly selfPingIntervalMs?: number;
  /** Retries of an inbound event the core refused, before it is left to the next archive replay. */
  readonly sinkRetryAttempts?: number;
  readonly sinkRetryInitialMs?: number;
}

/** Defaults of the timing options. */
export const XMPP_BRIDGE_DEFAULTS = {
  connectTimeoutMs: 20_000,
  joinTimeoutMs: 15_000,
  iqTimeoutMs: 15_000,
  selfPingIntervalMs: 120_000,
  sinkRetryAttempts: 6,
  sinkRetryInitialMs: 500,
} as const;
