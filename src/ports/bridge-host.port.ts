import type { Platform, RoomUri, UserUri } from '../common/ids';
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

  /**
   * `!mimi invite <address>`: invite the MIMI user of another provider that `address` names
   * (`xmpp:bob@b.test`, `@carol:other.hs`, a MIMI user URI) into the linked `room`, resolved
   * through their provider's `/identifierQuery`. Resolves with their user URI once they are a
   * participant. Optional: a host without it offers no invites by address.
   * @throws GatewayError with the provider's reason (NotFound: no such user, ...), BadValue (not an
   *   address, or a user of this gateway), NotAllowed (the room mirrors a room hubbed elsewhere)
   */
  invite?(room: LegacyRoomRef, address: string, requestedBy: LegacyUserRef): Promise<UserUri>;

  /**
   * The platform replaced `from` by `to` (a Matrix room upgrade): the MIMI room linked to `from`
   * is linked to `to` from now on (same MIMI room, same participants). Idempotent: `moved` is false
   * when `to` carried the link already. Optional.
   * @throws GatewayError NotFound (neither is linked), Conflict (`to` is linked to another MIMI room)
   */
  moveLink?(
    from: LegacyRoomRef,
    to: LegacyRoomRef,
    requestedBy: LegacyUserRef,
  ): Promise<{ readonly roomUri: RoomUri; readonly moved: boolean }>;
}
