import { createHash } from 'node:crypto';
import type { Logger } from '@nestjs/common';
import { errorMessage } from '../common/errors';
import type { UserUri } from '../common/ids';
import type { SenderProfile } from '../mimi/content';
import { type MediaBytes, type PlatformBridge, type RemoteUser, hasProfiles } from '../ports';

/** How many users' profiles (and avatar images) are remembered (the oldest learned is forgotten first). */
const MAX_KNOWN = 10_000;

/**
 * The image an avatar URL of a `senderProfile` names (MediaAssets.avatarBytes: an asset of the
 * room, fetched through MIMI), undefined when it names none.
 */
export type AvatarSource = (url: string) => Promise<MediaBytes | undefined>;

/**
 * Names and avatars of MIMI users shown on our platforms. A message carries its sender's profile
 * (the `senderProfile` extension, docs/EXTENSIONS.md); before a ghost/puppet posts, the bridge is
 * given the profile when it is new or changed (`Profiles.setProfile`), so a rename on the sender's
 * side shows with the next message. The last profile of each user is remembered, so a ghost that
 * joins a room later (a participant-list change) joins with its name.
 *
 * Avatars: the sending gateway serves the image as an asset of the room; its bytes are fetched
 * through MIMI (`AvatarSource`) and given to the bridge, which stores them on its platform. Each
 * room names the image by its own asset URL, so what was applied is compared by the image's hash:
 * the same picture reached through another room is fetched once more, but not set again.
 *
 * A profile is cosmetic: a bridge that cannot set it, or an avatar that cannot be fetched, is
 * logged and the message goes on.
 */
export class ProfileSync {
  private readonly known = new Map<UserUri, SenderProfile>();
  /** `${platform} ${userUri}` → the profile the bridge was last given. */
  private readonly applied = new Map<string, string>();
  /** Avatar URL → the SHA-256 of its image. */
  private readonly avatarHashes = new Map<string, string>();
  private avatarSource?: AvatarSource;

  constructor(
    private readonly bridgeOf: (platform: string) => PlatformBridge,
    private readonly logger: Pick<Logger, 'warn'>,
  ) {}

  /** Where avatar images come from (set by MediaAssets, which is built after this). */
  useAvatarSource(source: AvatarSource): void {
    this.avatarSource = source;
  }

  /**
   * The ghost/puppet of `userUri` on `platform` with its best known profile. A `learned` profile
   * that differs from what the bridge has is set on the bridge first.
   */
  async remoteUser(platform: string, userUri: UserUri, learned?: SenderProfile): Promise<RemoteUser> {
    if (learned !== undefined && (learned.displayName !== undefined || learned.avatarUrl !== undefined)) {
      this.remember(userUri, { ...this.known.get(userUri), ...learned });
    }
    const profile = this.known.get(userUri);
    const user: RemoteUser = { userUri, ...profile };
    if (profile === undefined) return user;
    const key = `${platform} ${userUri}`;
    const url = profile.avatarUrl;
    const wanted = appliedKey(profile.displayName, url === undefined ? undefined : (this.avatarHashes.get(url) ?? url));
    if (this.applied.get(key) === wanted) return user;
    const bridge = this.bridgeOf(platform);
    if (!hasProfiles(bridge)) return user;
    const avatar = url === undefined ? undefined : await this.fetchAvatar(userUri, url);
    const now = avatar === undefined ? wanted : appliedKey(profile.displayName, avatar.sha256);
    if (this.applied.get(key) === now) return user;
    try {
      await (avatar === undefined ? bridge.setProfile(user) : bridge.setProfile(user, avatar.image));
      this.applied.set(key, now);
      if (this.applied.size > MAX_KNOWN) this.applied.delete(this.applied.keys().next().value as string);
    } catch (e) {
      this.logger.warn(`profile of ${userUri} not set on ${platform}: ${errorMessage(e)}`);
    }
    return user;
  }

  /** The image `url` names, with its hash; undefined (logged) when it names none or cannot be fetched. */
  private async fetchAvatar(userUri: UserUri, url: string): Promise<{ image: MediaBytes; sha256: string } | undefined> {
    if (this.avatarSource === undefined) return undefined;
    try {
      const image = await this.avatarSource(url);
      if (image === undefined) return undefined;
      const sha256 = createHash('sha256').update(image.bytes).digest('hex');
      this.avatarHashes.set(url, sha256);
      if (this.avatarHashes.size > MAX_KNOWN) this.avatarHashes.delete(this.avatarHashes.keys().next().value as string);
      return { image, sha256 };
    } catch (e) {
      this.logger.warn(`avatar of ${userUri} not fetched: ${errorMessage(e)}`);
      return undefined;
    }
  }

  private remember(userUri: UserUri, profile: SenderProfile): void {
    this.known.delete(userUri);
    this.known.set(userUri, profile);
    if (this.known.size > MAX_KNOWN) this.known.delete(this.known.keys().next().value as UserUri);
  }
}

function appliedKey(displayName: string | undefined, avatar: string | undefined): string {
  return JSON.stringify([displayName ?? null, avatar ?? null]);
}
