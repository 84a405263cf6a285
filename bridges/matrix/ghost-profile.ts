/**
 * A ghost's display name and avatar, set so that the next message already shows them (issue 13).
 *
 * Setting the global profile (`PUT /profile/{id}/displayname`) is not enough: the homeserver copies
 * it into the ghost's `m.room.member` events later, in a background task (Synapse's
 * `_update_join_states`), so a message posted right after still shows under the ghost's ID. The
 * ghost therefore also writes its member event in every room it is in, with the new profile, and
 * this is awaited before anything more is posted. The homeserver's own copy, when it comes, carries
 * the same values.
 */
import type { Intent } from 'matrix-appservice-bridge';

/** The member-event profile fields (Matrix spec: m.room.member `displayname`, `avatar_url`). */
export interface GhostProfile {
  readonly displayname?: string;
  readonly avatar_url?: string;
}

type Content = Record<string, unknown>;

const enc = encodeURIComponent;

/**
 * Set `profile` as `ghostId`'s global profile and in its member event of every room it is in;
 * `joined` is told each room's new member content (for the bridge's membership cache).
 */
export async function setGhostProfile(
  ghost: { readonly id: string; readonly intent: Intent },
  profile: GhostProfile,
  joined: (roomId: string, content: GhostProfile) => void = () => undefined,
): Promise<void> {
  const client = ghost.intent.matrixClient;
  const base = `/_matrix/client/v3/profile/${enc(ghost.id)}`;
  if (profile.displayname !== undefined) {
    await client.doRequest('PUT', `${base}/displayname`, null, { displayname: profile.displayname });
  }
  if (profile.avatar_url !== undefined) {
    await client.doRequest('PUT', `${base}/avatar_url`, null, { avatar_url: profile.avatar_url });
  }
  const rooms = ((await client.doRequest('GET', '/_matrix/client/v3/joined_rooms')) as { joined_rooms?: unknown })
    .joined_rooms;
  for (const roomId of Array.isArray(rooms) ? rooms : []) {
    if (typeof roomId !== 'string') continue;
    joined(roomId, await setRoomProfile(ghost, roomId, profile));
  }
}

/**
 * The ghost's member event in `roomId` with `profile` (a per-room profile): written only when it
 * differs from the current one. Resolves with the member content now in the room.
 */
export async function setRoomProfile(
  ghost: { readonly id: string; readonly intent: Intent },
  roomId: string,
  profile: GhostProfile,
): Promise<GhostProfile> {
  const client = ghost.intent.matrixClient;
  const path = `/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.member/${enc(ghost.id)}`;
  const current = (await client.doRequest('GET', path)) as Content;
  const wanted = Object.entries(profile).filter(([, v]) => v !== undefined) as [string, string][];
  if (wanted.every(([k, v]) => current[k] === v)) return profileOf(current);
  const content = { ...current, membership: 'join', ...Object.fromEntries(wanted) };
  await client.doRequest('PUT', path, null, content);
  return profileOf(content);
}

function profileOf(content: Content): GhostProfile {
  return {
    ...(typeof content['displayname'] === 'string' ? { displayname: content['displayname'] } : {}),
    ...(typeof content['avatar_url'] === 'string' ? { avatar_url: content['avatar_url'] } : {}),
  };
}
