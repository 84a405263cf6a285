import type { Platform } from '../common/ids';
import type { BridgeHost } from './bridge-host.port';
import type {
  InboundEvent,
  LegacyRoomRef,
  MessageAction,
  PlatformMessageRef,
  PostOptions,
  PostResult,
  RemoteUser,
  RoomSnapshot,
} from './vocabulary';

/**
 * The contract between the gateway core and a legacy chat platform (Matrix, XMPP): what every
 * bridge must do. What a bridge does only where its platform allows it (puppet membership,
 * moderation, roles, mirror rooms, join rules) is in capabilities.port.ts; the core asks for it
 * with the type guards there.
 *
 * Bridges translate; they never decide. Every decision (who may post, ordering, what a MIMI
 * message means) is taken by the core, which talks to platforms only through these ports.
 */
export const PLATFORM_BRIDGES = Symbol('PLATFORM_BRIDGES');

/**
 * Receives inbound events. Resolves once the event is durably recorded (or recognised as a
 * duplicate/echo); only then may the bridge acknowledge it to the platform. A rejection means
 * "not recorded": the bridge must let the platform redeliver (Matrix retries the transaction;
 * XMPP: the bridge replays from MAM / its own journal). It rejects for that one event only;
 * the bridge carries on with the next.
 *
 * Calls for one legacy room are handled in call order even when the bridge does not wait for one
 * before making the next: a bridge should hand over what the platform delivered together (an
 * appservice transaction, a burst of stanzas) at once and then wait for all of it, so that the
 * core records them in one database transaction (issue 12).
 */
export type InboundSink = (event: InboundEvent) => Promise<void>;

export interface PlatformBridge {
  /** Which platform this bridge speaks for. Two bridges claiming the same platform fail start-up. */
  readonly platform: Platform;

  /**
   * Connect and start reporting inbound events to `sink`. Resolves once the platform is
   * reachable and events flow. Rejects with a PlatformError if the platform cannot be reached.
   * `host` takes the administrative requests (link/unlink/status commands, portal joins).
   */
  start(sink: InboundSink, host?: BridgeHost): Promise<void>;

  /** Stop reporting events and disconnect. Pending posts reject with PlatformUnavailable. */
  stop(): Promise<void>;

  /**
   * Post one message action into `room` as the ghost/puppet of `as`, joining it first if needed.
   * Resolves only after the platform accepted it (Matrix returned an event ID; the MUC reflected
   * the stanza). Idempotent on `opts.idempotencyKey`.
   * @throws PlatformError code PlatformRejected (permanent: forbidden, too large) or
   *         PlatformUnavailable / Timeout (retryable).
   */
  post(room: LegacyRoomRef, as: RemoteUser, action: MessageAction, opts: PostOptions): Promise<PostResult>;

  /** Read members, roles and metadata of `room` (for linking and resynchronisation). */
  getRoomSnapshot(room: LegacyRoomRef): Promise<RoomSnapshot>;

  /**
   * Tell a local user something went wrong with their message (e.g. the remote hub rejected a
   * submission), in the way the platform does best (a notice, an error stanza, a reaction).
   */
  notifyFailure(room: LegacyRoomRef, about: PlatformMessageRef, humanMessage: string): Promise<void>;
}
