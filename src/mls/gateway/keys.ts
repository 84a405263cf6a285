/**
 * Storage key layout of the gateway-scale MLS layer (`MlsStorage`, one key/value table).
 *
 * Per group (group id base64url), shared by every local member:
 * - `mls2/group/<gid>/epoch`                 context (extensions by hash), transcript, epoch secrets, past epochs
 *                                            (their signature keys as differences); once per commit, small
 * - `mls2/group/<gid>/node/<x>`              tree node x (absent: blank); written when the node changes
 * - `mls2/group/<gid>/pk/<x>`                private HPKE key pair of node x that a local member knows; when it changes
 * - `mls2/group/<gid>/ext/<hash>`            GroupContext extensions, once per distinct value (current and past epochs')
 * - `mls2/group/<gid>/local/<user>`          a local member (leaf, leaf key age, messages sent); when it changes
 * - `mls2/group/<gid>/proposals`             proposals received in the current epoch (absent when none)
 * - `mls2/group/<gid>/ratchet/<epoch>/<leaf>` one leaf's secret-tree ratchets in one epoch; per message, ~100 bytes
 *
 * A commit writes the rows that changed (O(log n) nodes and keys for a path, plus the extensions
 * when the commit changed them), all in the caller's transaction (`DbMlsStorage`).
 *
 * Per user (URI percent-encoded so '/' separates fields):
 * - `mls2/member/<user>`                     signature key pair, shared by all of the user's groups
 * - `mls2/kp/<user>/<KeyPackageRef b64url>`  private keys of a published KeyPackage, until it is used once
 *
 * Every value except `epoch`'s public part holds secrets: encrypt at rest if the database is shared.
 */
import type { UserUri } from '../../common/ids';

export const b64url = (b: Uint8Array): string =>
  Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64url');

const group = (groupId: Uint8Array): string => `mls2/group/${b64url(groupId)}/`;

export const gatewayKeys = {
  groupPrefix: group,
  epoch: (groupId: Uint8Array): string => `${group(groupId)}epoch`,
  nodePrefix: (groupId: Uint8Array): string => `${group(groupId)}node/`,
  privateKeyPrefix: (groupId: Uint8Array): string => `${group(groupId)}pk/`,
  extensionsPrefix: (groupId: Uint8Array): string => `${group(groupId)}ext/`,
  localPrefix: (groupId: Uint8Array): string => `${group(groupId)}local/`,
  proposals: (groupId: Uint8Array): string => `${group(groupId)}proposals`,
  ratchetPrefix: (groupId: Uint8Array, epoch?: bigint): string =>
    epoch === undefined ? `${group(groupId)}ratchet/` : `${group(groupId)}ratchet/${epoch}/`,
  member: (user: UserUri): string => `mls2/member/${encodeURIComponent(user)}`,
  keyPackagePrefix: (user: UserUri): string => `mls2/kp/${encodeURIComponent(user)}/`,
  keyPackage: (user: UserUri, ref: Uint8Array): string => `mls2/kp/${encodeURIComponent(user)}/${b64url(ref)}`,
};

/**
 * What a written key belongs to, for callers that must drop cached state after a rolled-back
 * transaction: a group (base64url id) or a user.
 */
export function ownerOfKey(key: string): { group?: string; user?: UserUri } | undefined {
  const parts = key.split('/');
  if (parts[0] !== 'mls2' || parts[2] === undefined) return undefined;
  if (parts[1] === 'group') return { group: parts[2] };
  if (parts[1] === 'member' || parts[1] === 'kp') {
    try {
      return { user: decodeURIComponent(parts[2]) as UserUri };
    } catch {
      return undefined;
    }
  }
  return undefined;
}
