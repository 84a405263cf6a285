import type { Logger } from '@nestjs/common';
import { errorMessage } from '../common/errors';
import type { UserUri } from '../common/ids';
import type { SenderProfile } from '../mimi/content';
import { type PlatformBridge, type RemoteUser, hasProfiles } from '../ports';

/** How many users' profiles are remembered (the oldest learned is forgotten first). */
const MAX_KNOWN = 10_000;

/**
 * Names and avatars of MIMI users shown on our platforms. A message carries its sender's profile
 * (the `senderProfile` extension, docs/EXTENSIONS.md); before a ghost/puppet posts, the bridge is
 * given the profile when it is new or changed (`Profiles.setProfile`), so a rename on the sender's
 * side shows with the next message. The last profile of each user is remembered, so a ghost that
 * joins a room later (a participant-list change) joins with its name.
 *
 * A profile is cosmetic: a bridge that cannot set it is logged and the message goes on.
 */
export class ProfileSync {
  private readonly known = new Map<UserUri, SenderProfile>();
  /** `${platform} ${userUri}` → the profile the bridge was last given. */
  private readonly applied = new Map<string, string>();

  constructor(
    private readonly bridgeOf: (platform: string) => PlatformBridge,
    private readonly logger: Pick<Logger, 'warn'>,
  ) {}

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
    const wanted = JSON.stringify([profile.displayName ?? null, profile.avatarUrl ?? null]);
    if (this.applied.get(key) === wanted) return user;
    const bridge = this.bridgeOf(platform);
    if (!hasProfiles(bridge)) return user;
    try {
      await bridge.setProfile(user);
      this.applied.set(key, wanted);
      if (this.applied.size > MAX_KNOWN) this.applied.delete(this.applied.keys().next().value as string);
    } catch (e) {
      this.logger.warn(`profile of ${userUri} not set on ${platform}: ${errorMessage(e)}`);
    }
    return user;
  }

  private remember(userUri: UserUri, profile: SenderProfile): void {
    this.known.delete(userUri);
    this.known.set(userUri, profile);
    if (this.known.size > MAX_KNOWN) this.known.delete(this.known.keys().next().value as UserUri);
  }
}
