import type { Platform, RoomUri } from '../common/ids';
import type { BridgeStateStore } from './bridge-state.port';
import type { LegacyRoomRef, LegacyUserRef } from './vocabulary';

/** What the core reports about a linked legacy room (for `!mimi status` and the provisioning API). */
export interface LinkStatus {
  readonly room: LegacyRoomRef;
  readonly roomUri: RoomUri;
  /** `hub`: the legacy room is the source of truth; `follower`: it mirrors a room hubbed elsewhere. */
  readonly role: 'hub' | 'follower';
  /** The hub's provider domain. */
  readonly hub: string;
  readonly participants: number;
  /** Follower providers with participants, and how many outbox rows wait for each. */
  readonly followers: readonly { readonly domain: string; readonly pending: number }[];
}

/**
 * Administrative requests a bridge passes to the core: the in-room commands (`!mimi link`,
 * `!mimi unlink`, `!mimi status`) and portal joins. The bridge checks the platform permission
 * (e.g. the power level from config) before calling; the core decides everything else.
 */
export interface BridgeHost {
  /**
   * Make `room` a MIMI room hubbed here. Idempotent: linking a linked room returns its status.
   * @throws GatewayError (Conflict when the room mirrors a remote room)
   */
  link(room: LegacyRoomRef, requestedBy: LegacyUserRef): Promise<LinkStatus>;

  /** Stop bridging `room`. Followers are told the room is gone. @throws GatewayError NotFound */
  unlink(room: LegacyRoomRef, requestedBy: LegacyUserRef): Promise<void>;

  /** The link of `room`, or undefined when it is not bridged. */
  status(room: LegacyRoomRef): Promise<LinkStatus | undefined>;

  /**
   * The durable state store of `platform`'s bridge, kept in the core's database. Optional: a
   * host without a database (tests) leaves the bridge to its own store.
   */
  stateStore?(platform: Platform): BridgeStateStore;

  /**
   * Follower mode: a local user asked for the remote MIMI room `roomUri` (e.g. through a portal
   * alias). Resolves with the local mirror room, creating it (through the bridge's
   * createMirrorRoom) and joining the MIMI room when needed.
   * @throws GatewayError NotFound when the hub does not know the room, Forbidden when refused
   */
  joinRemote(roomUri: RoomUri, requestedBy: LegacyUserRef): Promise<LegacyRoomRef>;
}
