import type { RoomUri } from '../common/ids';
import type { MediaBytes } from './media.port';
import type { PlatformBridge } from './platform-bridge.port';
import type { JoinRule, LegacyRoomRef, LegacyUserRef, ParticipantRole, RemoteUser } from './vocabulary';

/**
 * Optional capabilities: a bridge implements those its platform allows (`class XBridge implements
 * PlatformBridge, PuppetMembership, Moderation`), and the core asks for one with its type guard
 * (`if (canModerate(bridge)) …`) instead of calling a member every bridge must stub. The guards
 * look for the member at run time, so a bridge that has the method has the capability.
 *
 * What the core does without one: see the rooms core (`RoomSupport.capable`), which fails the
 * single action with a non-retryable PlatformRejected; `JoinRules` missing means invite-only.
 */

/** Ghosts/puppets of MIMI users that can be in a legacy room (a MIMI participant added or removed). */
export interface PuppetMembership {
  /**
   * Make the ghost/puppet of `user` join or leave `room`. Idempotent: joining twice or leaving a
   * room one is not in resolves.
   * @throws PlatformError
   */
  setMembership(room: LegacyRoomRef, user: RemoteUser, membership: 'join' | 'leave'): Promise<void>;
}

/** Display names and avatars of ghosts/puppets (a MIMI user's name learned or changed). */
export interface Profiles {
  /**
   * Give the ghost/puppet of `user` its `displayName` (Matrix: the ghost's profile and member
   * events; XMPP: the puppet's nick in every room, with the nick-conflict handling) and its avatar:
   * `avatar`, the image's bytes (fetched through MIMI by the core), stored on the platform (Matrix:
   * the media repository; XMPP: the puppet's vCard); without it, `avatarUrl` where the platform can
   * use it without fetching a URL. Fields left undefined are left unchanged. Resolves once a message
   * posted next shows the new profile.
   * @throws PlatformError
   */
  setProfile(user: RemoteUser, avatar?: MediaBytes): Promise<void>;
}

/** Kicks and bans carried out by the bridge's own bot (a MIMI moderator removed someone). */
export interface Moderation {
  /** @throws PlatformError code PlatformRejected when the bot lacks the rights. */
  moderate(
    room: LegacyRoomRef,
    target: LegacyUserRef | RemoteUser,
    action: 'kick' | 'ban' | 'unban',
    reason?: string,
  ): Promise<void>;
}

/** Platform roles (power levels, MUC affiliations) that follow MIMI roles. */
export interface Roles {
  /**
   * Give `user` the platform's nearest equivalent of `role`.
   * @throws PlatformError code PlatformRejected when the bot lacks the rights.
   */
  setRole(room: LegacyRoomRef, user: LegacyUserRef | RemoteUser, role: ParticipantRole): Promise<void>;
}

/** Follower mode: local rooms that mirror MIMI rooms hubbed by another provider. */
export interface MirrorRooms {
  /**
   * Create a local room that mirrors the MIMI room `roomUri`: remote participants appear there as
   * ghosts/puppets, local users post there. Idempotent: asking again for the same `roomUri`
   * returns the same room.
   * @throws PlatformError
   */
  createMirrorRoom(roomUri: RoomUri, opts: { name?: string }): Promise<LegacyRoomRef>;
}

/** protocol-06 §5.9: an abuse report about a room we hub, as the bridge delivers it. */
export interface AbuseReportNotice {
  /** The reporting MIMI user, when the report names one. */
  readonly reporter?: string;
  /** The provider that sent the report. */
  readonly reportedVia: string;
  readonly abuser: string;
  readonly reasonCode: number;
  readonly note: string;
  /** The platform events of the reported messages this room has (a report may name none). */
  readonly platformEventIds: readonly string[];
}

/** Abuse reports delivered to the room's moderators (protocol-06 §5.9, issue 10 item 5). */
export interface AbuseReporting {
  /**
   * Tell the room's moderators (Matrix: a notice mentioning them, and each reported event through
   * the homeserver's report API).
   * @throws PlatformError
   */
  reportAbuse(room: LegacyRoomRef, report: AbuseReportNotice): Promise<void>;
}

/** Asking one of the platform's users whether a MIMI user may add them (protocol-06 §5.7 consent). */
export interface ConsentPrompts {
  /**
   * Ask `user` (through the bridge's bot) whether `requester` may add them (to `roomUri`, when
   * given). Resolves with the answer, or `undefined` when the user did not answer.
   * @throws PlatformError
   */
  askConsent(user: LegacyUserRef, requester: string, roomUri?: string): Promise<'grant' | 'deny' | undefined>;
}

/** A mirror room whose MIMI room is gone (unlinked at its hub, issue 10 item 6). */
export interface ClosableMirrorRooms {
  /**
   * Say `notice` in the mirror room and stop offering its local users to post there (Matrix: only
   * the bridge may send events). Idempotent.
   * @throws PlatformError
   */
  closeMirrorRoom(room: LegacyRoomRef, notice: string): Promise<void>;
}

/** Who may enter a legacy room without an invitation (open rooms, protocol-06 §5.6). */
export interface JoinRules {
  /**
   * The join rule of `room` (Matrix `m.room.join_rules`, a MUC's members-only setting). A bridge
   * without it makes every room invite-only for MIMI users of other providers.
   * @throws PlatformError
   */
  joinRule(room: LegacyRoomRef): Promise<JoinRule>;
}

/** What a bridge knows about its platform's reachability, for `/health`. */
export interface PlatformHealth {
  /** `pending`: not known yet (first check in progress); `failing`: the last check failed. */
  readonly state: 'ok' | 'pending' | 'failing';
  /** Why, for operators (the platform's error, the attempt, when it is tried again). */
  readonly detail: string;
}

/** A bridge that checks its platform in the background and reports the result (`/health`). */
export interface HealthReporting {
  health(): PlatformHealth;
}

/** The name, topic and avatar of a room the core may set (mirror rooms follow the MIMI room_metadata). */
export interface RoomDetails {
  /**
   * Set what `details` names (an empty string clears it; a field left out stays as it is).
   * @throws PlatformError code PlatformRejected when the bot lacks the rights.
   */
  setRoomDetails(room: LegacyRoomRef, details: { name?: string; topic?: string }): Promise<void>;
}

/** What a search for a platform user found (protocol-06 §5.8 `/identifierQuery`, answered for our users). */
export type UserLookup =
  | { readonly kind: 'found'; readonly userId: string; readonly displayName?: string }
  /** An address of this platform, but no such user here; `reason` says why, in a few words. */
  | { readonly kind: 'notFound'; readonly reason: string }
  /** Not an address of this platform, nor of a user it serves (another bridge may know it). */
  | { readonly kind: 'notMine' };

/** Finding the platform's users by address, for peers that ask (`/identifierQuery`) and for local invites. */
export interface UserDirectory {
  /**
   * The user a handle (an address in the platform's own form or URI: `xmpp:bob@b.test`,
   * `@carol:hs.example`, `matrix:u/carol:hs.example`) or a nick (the user part: `bob`) names, among
   * the users this bridge serves.
   * @throws PlatformError when the platform cannot be asked now
   */
  lookupUser(search: { readonly type: 'handle' | 'nick'; readonly value: string }): Promise<UserLookup>;
}

/** Invitations of local users (a user of ours was added to a MIMI room that a local room mirrors). */
export interface Invitations {
  /**
   * Invite `user` into `room` the platform's way (Matrix: an invite; XMPP: an XEP-0249 direct
   * invitation). Idempotent enough to repeat: a second invitation is harmless.
   * @throws PlatformError
   */
  inviteUser(room: LegacyRoomRef, user: LegacyUserRef, opts: { readonly reason?: string }): Promise<void>;
}

function hasMethod(bridge: PlatformBridge, name: string): boolean {
  return typeof (bridge as unknown as Record<string, unknown>)[name] === 'function';
}

export function hasPuppetMembership(bridge: PlatformBridge): bridge is PlatformBridge & PuppetMembership {
  return hasMethod(bridge, 'setMembership');
}

export function hasProfiles(bridge: PlatformBridge): bridge is PlatformBridge & Profiles {
  return hasMethod(bridge, 'setProfile');
}

export function canModerate(bridge: PlatformBridge): bridge is PlatformBridge & Moderation {
  return hasMethod(bridge, 'moderate');
}

export function hasRoles(bridge: PlatformBridge): bridge is PlatformBridge & Roles {
  return hasMethod(bridge, 'setRole');
}

export function hasMirrorRooms(bridge: PlatformBridge): bridge is PlatformBridge & MirrorRooms {
  return hasMethod(bridge, 'createMirrorRoom');
}

export function canCloseMirrorRooms(bridge: PlatformBridge): bridge is PlatformBridge & ClosableMirrorRooms {
  return hasMethod(bridge, 'closeMirrorRoom');
}

export function canReportAbuse(bridge: PlatformBridge): bridge is PlatformBridge & AbuseReporting {
  return hasMethod(bridge, 'reportAbuse');
}

export function canAskConsent(bridge: PlatformBridge): bridge is PlatformBridge & ConsentPrompts {
  return hasMethod(bridge, 'askConsent');
}

export function hasRoomDetails(bridge: PlatformBridge): bridge is PlatformBridge & RoomDetails {
  return hasMethod(bridge, 'setRoomDetails');
}

export function hasJoinRules(bridge: PlatformBridge): bridge is PlatformBridge & JoinRules {
  return hasMethod(bridge, 'joinRule');
}

export function reportsHealth(bridge: PlatformBridge): bridge is PlatformBridge & HealthReporting {
  return hasMethod(bridge, 'health');
}

export function hasUserDirectory(bridge: PlatformBridge): bridge is PlatformBridge & UserDirectory {
  return hasMethod(bridge, 'lookupUser');
}

export function hasInvitations(bridge: PlatformBridge): bridge is PlatformBridge & Invitations {
  return hasMethod(bridge, 'inviteUser');
}
