/**
 * What a ghost does as itself: join a room (invited by the bot first when the room is invite-only)
 * or leave it, set its profile (ghost-profile.ts; an avatar's bytes uploaded as the ghost) and
 * upload media. The bridge's membership cache follows each change. The bridge resolves the ghost
 * and wraps each call in its request deadlines (PostGuard).
 */
import type { Logger } from '@nestjs/common';
import type { Intent, MembershipCache } from 'matrix-appservice-bridge';
import type { MediaBytes, MediaUpload, RemoteUser } from '../../src/ports';
import { mxcOfDownloadUrl } from './matrix-ids';
import { matrixStatus } from './matrix-errors';
import type { MatrixMedia } from './media/matrix-media';
import { setGhostProfile, setRoomProfile } from './ghost-profile';

/** A ghost's user ID and the SDK intent acting as it. */
export interface Ghost {
  readonly id: string;
  readonly intent: Intent;
}

export interface GhostMembershipDeps {
  readonly bot: () => Intent;
  readonly membership: MembershipCache;
  readonly media: MatrixMedia;
  readonly homeserverUrl: string;
  readonly logger: Logger;
}

export class GhostMembership {
  constructor(private readonly deps: GhostMembershipDeps) {}

  /** Join a ghost; in an invite-only room the bot invites it first. */
  async join(roomId: string, ghost: Ghost): Promise<void> {
    const { membership } = this.deps;
    if (membership.getMemberEntry(roomId, ghost.id) === 'join') return;
    await ghost.intent.ensureRegistered();
    const joinPath = `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`;
    try {
      await ghost.intent.matrixClient.doRequest('POST', joinPath, null, {});
    } catch (e) {
      if (matrixStatus(e) !== 403) throw e;
      await this.deps.bot().matrixClient.inviteUser(ghost.id, roomId);
      await ghost.intent.matrixClient.doRequest('POST', joinPath, null, {});
    }
    membership.setMemberEntry(roomId, ghost.id, 'join', {});
  }

  async setMembership(roomId: string, ghost: Ghost, user: RemoteUser, membership: 'join' | 'leave'): Promise<void> {
    await ghost.intent.ensureRegistered();
    if (membership === 'join') {
      await this.join(roomId, ghost);
      if (user.displayName !== undefined) await this.setRoomDisplayName(roomId, ghost, user.displayName);
      return;
    }
    try {
      await ghost.intent.matrixClient.leaveRoom(roomId);
    } catch (e) {
      // Leaving a room one is not in is a success (idempotent).
      const status = matrixStatus(e);
      if (status !== 403 && status !== 404) throw e;
    }
    this.deps.membership.setMemberEntry(roomId, ghost.id, 'leave', {});
  }

  /** Per-room display name (the ghost's member event), so a MIMI nickname shows where it belongs. */
  private async setRoomDisplayName(roomId: string, ghost: Ghost, name: string): Promise<void> {
    if (this.deps.membership.getMemberProfile(roomId, ghost.id)?.displayname === name) return;
    const profile = await setRoomProfile(ghost, roomId, { displayname: name });
    this.deps.membership.setMemberEntry(roomId, ghost.id, 'join', profile);
  }

  /**
   * The ghost's display name and avatar, globally and in the member event of each room it is in,
   * before anything more is posted (ghost-profile.ts). `avatar`: the image's bytes (fetched through
   * MIMI), uploaded as the ghost; else only media already on this homeserver is used.
   */
  async setProfile(ghost: Ghost, user: RemoteUser, avatar?: MediaBytes): Promise<void> {
    await ghost.intent.ensureRegistered();
    const avatarUrl =
      avatar !== undefined ? await this.deps.media.upload(ghost.id, { ...avatar, filename: 'avatar' }) : user.avatarUrl;
    const mxc = avatarUrl === undefined ? undefined : mxcOfDownloadUrl(this.deps.homeserverUrl, avatarUrl);
    if (mxc === undefined && avatarUrl !== undefined) {
      this.deps.logger.debug(`${ghost.id}: avatar ${avatarUrl} is not Matrix media, not copied`);
    }
    await setGhostProfile(
      ghost,
      {
        ...(user.displayName !== undefined ? { displayname: user.displayName } : {}),
        ...(mxc ? { avatar_url: mxc } : {}),
      },
      (roomId, profile) => this.deps.membership.setMemberEntry(roomId, ghost.id, 'join', profile),
    );
  }

  /** Upload into the media repository as the ghost; the download URL to send as m.image/m.file. */
  async uploadMedia(ghost: Ghost, file: MediaUpload): Promise<string> {
    await ghost.intent.ensureRegistered();
    return this.deps.media.upload(ghost.id, file);
  }
}
