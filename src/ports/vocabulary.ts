import type { Platform, UserUri } from '../common/ids';

/**
 * The words the gateway core and the platform bridges share (types only, no behaviour).
 *
 * They are platform-neutral: a Matrix room ID and a MUC JID are both a `LegacyRoomRef`, a Matrix
 * event ID and an XMPP stanza-id are both a `platformEventId`. Direction "inbound" = platform →
 * core; "outbound" = core → platform. The contracts that use these words are in
 * platform-bridge.port.ts (required), capabilities.port.ts (optional) and bridge-host.port.ts.
 */

/** A room on a legacy platform. `roomId` is opaque to the core (a Matrix room ID, a MUC bare JID). */
export interface LegacyRoomRef {
  readonly platform: Platform;
  readonly roomId: string;
}

/** A user native to the legacy platform (a Matrix user ID, an occupant's real bare JID or nick). */
export interface LegacyUserRef {
  readonly platform: Platform;
  readonly userId: string;
  /** Best known display name (Matrix displayname, MUC nick). */
  readonly displayName?: string;
  /** Avatar as an https URL others can open (a Matrix mxc:// turned into its download URL), when known. */
  readonly avatarUrl?: string;
}

/**
 * A MIMI user the gateway represents on the platform: a Matrix ghost or an XMPP puppet.
 * The bridge derives the ghost/puppet identity from `userUri` deterministically and reversibly.
 */
export interface RemoteUser {
  readonly userUri: UserUri;
  readonly displayName?: string;
  /** Avatar as an https URL from the participant data; bridges upload/copy it, never hotlink. */
  readonly avatarUrl?: string;
}

/**
 * Roles, ordered from least to most privileged; the bridge maps them to power levels or MUC
 * affiliations/roles and back (draft-ietf-mimi-room-policy-03 §4 role model, simplified).
 */
export enum ParticipantRole {
  Banned = 'banned',
  Visitor = 'visitor',
  Member = 'member',
  Moderator = 'moderator',
  Admin = 'admin',
  Owner = 'owner',
}

/** A reference to an earlier message on the platform (the platform's own ID for it). */
export interface PlatformMessageRef {
  readonly platformEventId: string;
}

/** A file or image carried by reference (MIMI ExternalPart). */
export interface Attachment {
  /** Where the bytes are: an https URL the bridge has already made fetchable (never an arbitrary hotlink). */
  readonly url: string;
  readonly contentType: string;
  readonly size?: number;
  readonly filename?: string;
  readonly description?: string;
  /** SHA-256 of the bytes, when known. */
  readonly sha256?: Uint8Array;
}

/** Platform-neutral message body: plain text plus optional GFM-MIMI Markdown (no raw HTML, ever). */
export interface MessageBody {
  readonly kind: 'text' | 'notice' | 'emote';
  /** Plain text; always present (the fallback every client can show). */
  readonly text: string;
  /** GFM-MIMI Markdown (content-08 §7), when the message had formatting. */
  readonly markdown?: string;
  readonly attachments?: readonly Attachment[];
  /** Users mentioned, as MIMI user URIs (remote users) or legacy users. */
  readonly mentions?: readonly (UserUri | LegacyUserRef)[];
}

/** What a message event does (content-08 §5: original, reply, edit, delete, reaction, unlike). */
export type MessageAction =
  | { readonly type: 'post'; readonly body: MessageBody; readonly inReplyTo?: PlatformMessageRef }
  | { readonly type: 'edit'; readonly target: PlatformMessageRef; readonly body: MessageBody }
  | { readonly type: 'delete'; readonly target: PlatformMessageRef }
  | { readonly type: 'react'; readonly target: PlatformMessageRef; readonly key: string }
  | { readonly type: 'unreact'; readonly reaction: PlatformMessageRef }
  /**
   * The sender has read the room up to `target` (a Matrix `m.read` receipt, an XEP-0333
   * `displayed` marker); a MIMI message status report (draft-mahy-mimi-message-status). Posting
   * one sends the platform's read marker as the ghost/puppet; it has no platform event of its own.
   */
  | { readonly type: 'read'; readonly target: PlatformMessageRef };

export type Membership = 'invite' | 'join' | 'leave' | 'kick' | 'ban' | 'unban';

/** Events a bridge reports to the core. Every event names its room and carries the platform's own ID. */
export type InboundEvent =
  | {
      readonly kind: 'message';
      readonly room: LegacyRoomRef;
      /** The platform's ID of this event (Matrix event ID, MUC stanza-id); the de-duplication key. */
      readonly platformEventId: string;
      /** The author: a native user, or one of our own ghosts/puppets (an echo). */
      readonly sender: LegacyUserRef | RemoteUser;
      readonly action: MessageAction;
      /** Milliseconds since the epoch, as the platform stamped it. */
      readonly timestamp: number;
    }
  | {
      readonly kind: 'membership';
      readonly room: LegacyRoomRef;
      readonly platformEventId: string;
      readonly user: LegacyUserRef | RemoteUser;
      readonly membership: Membership;
      /** Who did it, when not the user themselves (the kicker, the banner). */
      readonly by?: LegacyUserRef;
      readonly reason?: string;
      readonly timestamp: number;
    }
  | {
      readonly kind: 'role';
      readonly room: LegacyRoomRef;
      readonly platformEventId: string;
      readonly user: LegacyUserRef | RemoteUser;
      readonly role: ParticipantRole;
      readonly by?: LegacyUserRef;
      readonly timestamp: number;
    }
  | {
      readonly kind: 'roomMetadata';
      readonly room: LegacyRoomRef;
      readonly platformEventId: string;
      /** Who changed it, when the platform says (absent for the bridge's own changes). */
      readonly by?: LegacyUserRef;
      readonly name?: string;
      readonly topic?: string;
      readonly avatarUrl?: string;
      readonly timestamp: number;
    }
  | {
      /** The room's rules changed (Matrix power levels or join rules, a MUC's configuration). */
      readonly kind: 'roomPolicy';
      readonly room: LegacyRoomRef;
      readonly platformEventId: string;
      /** The new permissions, when they changed. */
      readonly permissions?: RoomPermissions;
      /** The new join rule, when it changed. */
      readonly joinRule?: JoinRule;
      readonly timestamp: number;
    };

/** The platform accepted a post. */
export interface PostResult {
  /** The platform's ID for the new event (Matrix event ID; for XMPP the MUC-assigned stanza-id). */
  readonly platformEventId: string;
  /** Platform timestamp of acceptance (ms since epoch). */
  readonly acceptedAt: number;
}

/** A consistent view of a legacy room, read when it is linked or re-synchronised. */
export interface RoomSnapshot {
  readonly room: LegacyRoomRef;
  readonly name?: string;
  readonly topic?: string;
  readonly avatarUrl?: string;
  readonly members: readonly { readonly user: LegacyUserRef | RemoteUser; readonly role: ParticipantRole }[];
  /** What each role may do; absent: the core's defaults (`DEFAULT_ROOM_PERMISSIONS`, src/rooms/room-state). */
  readonly permissions?: RoomPermissions;
  /** Who may enter; absent: as `JoinRules.joinRule` says (invite-only without that capability). */
  readonly joinRule?: JoinRule;
}

/**
 * What a legacy room lets its participants do, by role: the platform's own model (Matrix power
 * levels, XEP-0045 affiliations and roles) in platform-neutral words. The core turns it into the
 * MIMI `roles_list` (room-policy-03 §3) and enforces that.
 */
export type RoomAction =
  | 'send'
  | 'invite'
  | 'kick'
  | 'ban'
  | 'redact'
  | 'changeName'
  | 'changeTopic'
  | 'changeAvatar'
  | 'changeRoles'
  | 'changeJoinRule';

export interface RoomPermissions {
  /** The least role allowed each action (roles above it are allowed too); an action left out: no role. */
  readonly minimumRole: Readonly<Partial<Record<RoomAction, ParticipantRole>>>;
  /**
   * The highest role each role may give others (with `changeRoles`), and only to those below its
   * own role; a role left out gives at most its own role (Matrix: up to one's own power level).
   */
  readonly highestGrant?: Readonly<Partial<Record<ParticipantRole, ParticipantRole>>>;
}

export interface PostOptions {
  /**
   * Stable across retries of the same logical post (derived from the MIMI message ID). A bridge
   * that sees the same key twice must not post twice (Matrix: the transaction ID of the send).
   */
  readonly idempotencyKey: string;
  /** Give up (reject with a retryable PlatformError, code Timeout) after this long. */
  readonly timeoutMs: number;
  /**
   * An earlier attempt with this key may have reached the platform without the gateway learning
   * the outcome (it failed or timed out, or a gateway process stopped while posting it). A bridge
   * whose platform can forget its de-duplication (Synapse forgets transaction IDs when it
   * restarts) then looks for the earlier post before sending again. Absent: a first attempt.
   */
  readonly retry?: boolean;
}

/**
 * Who may enter a legacy room without an invitation. `public`: anyone on the platform, so MIMI
 * users of other providers may join it by external commit (protocol-06 §5.6 "open rooms");
 * `invite`: only invited users (MIMI users need an invitation on the platform).
 */
export type JoinRule = 'public' | 'invite';
