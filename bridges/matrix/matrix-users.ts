/**
 * Users of this homeserver, found by address (the `UserDirectory` capability, for peers'
 * `/identifierQuery` and for `!mimi invite`), and invitations of them (`Invitations`: a user of
 * ours added to a MIMI room that a mirror room here shows).
 *
 * - A handle is a user ID (`@carol:hs.example`) or a `matrix:` URI (`matrix:u/carol:hs.example`,
 *   MSC2312); a nick is the localpart (`carol`), taken on this homeserver.
 * - Only users of this homeserver (matrix.domain) are ours; the bridge's own bot and ghosts are no
 *   users to find. Whether the user exists is the homeserver's profile API's answer (404: no such
 *   user), asked as the bot.
 */
import type { Intent } from 'matrix-appservice-bridge';
import type { LegacyRoomRef, LegacyUserRef, UserLookup } from '../../src/ports';
import { matrixErrcode, matrixStatus } from './matrix-errors';
import type { MatrixIds } from './matrix-ids';

/** The user ID a handle names (`@l:server` or `matrix:u/l:server`), or undefined for any other text. */
export function mxidOfHandle(value: string): string | undefined {
  const v = value.trim();
  const uri = /^matrix:u\/([^/?#]+)(?:[?#].*)?$/i.exec(v);
  let id: string;
  if (uri) {
    try {
      id = `@${decodeURIComponent(uri[1]!)}`;
    } catch {
      return undefined;
    }
  } else id = v;
  return /^@[a-z0-9._=\-/+]+:[a-z0-9.-]+(?::\d{1,5})?$/i.test(id) ? id : undefined;
}

export class MatrixUsers {
  constructor(
    private readonly deps: {
      readonly bot: () => Intent;
      readonly ids: MatrixIds;
    },
  ) {}

  async lookup(search: { readonly type: 'handle' | 'nick'; readonly value: string }): Promise<UserLookup> {
    const { ids } = this.deps;
    const mxid = search.type === 'nick' ? mxidOfHandle(`@${search.value}:${ids.domain}`) : mxidOfHandle(search.value);
    if (mxid === undefined || !mxid.endsWith(`:${ids.domain}`)) return { kind: 'notMine' };
    if (ids.isOwnUser(mxid)) return { kind: 'notFound', reason: `${mxid} is the bridge's own user, not a person` };
    try {
      const profile = (await this.deps.bot().matrixClient.getUserProfile(mxid)) as { displayname?: unknown };
      return {
        kind: 'found',
        userId: mxid,
        ...(typeof profile.displayname === 'string' && profile.displayname !== ''
          ? { displayName: profile.displayname }
          : {}),
      };
    } catch (e) {
      if (matrixStatus(e) === 404) return { kind: 'notFound', reason: `${ids.domain} has no user ${mxid}` };
      throw e;
    }
  }

  /** The bot invites `user` into `room`; a user who is in the room already is no failure. */
  async invite(room: LegacyRoomRef, user: LegacyUserRef): Promise<void> {
    try {
      await this.deps.bot().matrixClient.inviteUser(user.userId, room.roomId);
    } catch (e) {
      // Synapse answers 403 M_FORBIDDEN "… is already in the room" to an invite of a member.
      if (
        matrixStatus(e) === 403 &&
        matrixErrcode(e) === 'M_FORBIDDEN' &&
        /already in the room/i.test(String((e as { body?: { error?: unknown } }).body?.error))
      ) {
        return;
      }
      throw e;
    }
  }
}
