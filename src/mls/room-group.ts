/**
 * The MLS group behind a MIMI room, from the hub's side (protocol-06 §3, §4.3, §7).
 *
 * Servers cannot commit (protocol-06 §7.3): every change here is a commit made by a member client
 * the hub's gateway runs (its bot or a puppet), which the hub then accepts at once because it is
 * its own hub. Followers' clients use `MemberClient.stageCommit` and wait for the hub instead.
 */
import { type ExternalSender, type Extension, encodeExternalSender, encodeRequiredCapabilities } from 'ts-mls';
import { ValidationError } from '../common/errors';
import { type RoomUri, type UserUri, parseMimiUri } from '../common/ids';
import { APP_DATA_DICTIONARY_EXTENSION_TYPE, type Participant, withParticipantList } from './app-data';
import { HubExternalSender, credentialUser } from './credentials';
import type { GroupInfoBundle, GroupSummary, MemberClient, StagedCommit } from './member-client';
import { keyPackageFromBytes } from './mls-message';
import { MlsErrorReason, MlsGroupError } from './mls.errors';

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/**
 * The MLS group ID of a room: the UTF-8 bytes of its MIMI group URI, `mimi://d/r/x` →
 * `mimi://d/g/x` (protocol-06 §3: room `mimi://a.example/r/clubhouse` has the group
 * `mimi://a.example/g/clubhouse`).
 * @throws ValidationError when `room` is not a MIMI room URI.
 */
export function groupIdForRoom(room: RoomUri): Uint8Array {
  const parsed = parseMimiUri(room);
  if (parsed?.kind !== 'r') throw new ValidationError(`not a MIMI room URI: ${room}`);
  return utf8.encode(`mimi://${parsed.domain}/g/${parsed.local}`);
}

/** The room URI a group ID was derived from, or `undefined` for any other group ID. */
export function roomUriForGroupId(groupId: Uint8Array): RoomUri | undefined {
  let text: string;
  try {
    text = utf8Strict.decode(groupId);
  } catch {
    return undefined;
  }
  const parsed = parseMimiUri(text);
  return parsed?.kind === 'g' ? (`mimi://${parsed.domain}/r/${parsed.local}` as RoomUri) : undefined;
}

/**
 * The GroupContext extensions of a new MIMI room group (MIMI-NOTES §5.1 B.6):
 * - `external_senders` with the hub (protocol-06 §7.4: "MUST contain at least the Certificate of the Hub");
 * - `required_capabilities` naming app_data_dictionary, so every joiner can carry the room state;
 * - `app_data_dictionary` with the `participant_list` component (§7.5).
 */
export function roomGroupExtensions(hub: ExternalSender, participants: readonly Participant[]): Extension[] {
  const base: Extension[] = [
    { extensionType: 'external_senders', extensionData: encodeExternalSender(hub) },
    {
      extensionType: 'required_capabilities',
      extensionData: encodeRequiredCapabilities({
        extensionTypes: [APP_DATA_DICTIONARY_EXTENSION_TYPE],
        proposalTypes: [],
        credentialTypes: ['basic'],
      }),
    },
  ];
  return withParticipantList(base, participants);
}

export interface CreateRoomGroupOptions {
  readonly roomUri: RoomUri;
  /** The hub provider's external sender. */
  readonly hub: HubExternalSender | ExternalSender;
  /** The initial participant list; it must contain the creating client's user. */
  readonly participants: readonly Participant[];
}

export class RoomGroup {
  private constructor(
    /** The member client that commits for the hub. */
    readonly committer: MemberClient,
    readonly roomUri: RoomUri,
    readonly groupId: Uint8Array,
  ) {}

  /**
   * Create the room's group with `committer` as first member.
   * @throws ValidationError when the creator's user is not in `participants`.
   */
  static async create(committer: MemberClient, options: CreateRoomGroupOptions): Promise<RoomGroup> {
    if (!options.participants.some((p) => p.user === committer.user)) {
      throw new ValidationError(`the creator ${committer.user} must be a participant of ${options.roomUri}`);
    }
    const hub = options.hub instanceof HubExternalSender ? options.hub.externalSender : options.hub;
    const groupId = groupIdForRoom(options.roomUri);
    await committer.createGroup(groupId, roomGroupExtensions(hub, options.participants));
    return new RoomGroup(committer, options.roomUri, groupId);
  }

  /** Bind to the existing group of `roomUri` that `committer` is a member of (no I/O). */
  static forRoom(committer: MemberClient, roomUri: RoomUri): RoomGroup {
    return new RoomGroup(committer, roomUri, groupIdForRoom(roomUri));
  }

  async summary(): Promise<GroupSummary> {
    return this.committer.group(this.groupId);
  }

  /** The participant list as the current GroupContext states it. */
  async participants(): Promise<readonly Participant[]> {
    return (await this.summary()).participants;
  }

  /**
   * Add clients from their KeyPackages and, in the same commit, the new participants (protocol-06
   * §5.3: the participant-list change is committed before or together with the Adds). Every added
   * client's user must be a participant afterwards (arch-02: clients are members only if their
   * user is a participant).
   * @returns the commit, the Welcome (without tree) and the new epoch's ratchet tree and GroupInfo.
   * @throws ValidationError on a KeyPackage without a MIMI user credential, a client of a
   *   non-participant, or a new participant who is already one.
   */
  async addMembers(
    keyPackages: readonly Uint8Array[],
    newParticipants: readonly Participant[] = [],
  ): Promise<StagedCommit> {
    const current = await this.participants();
    for (const p of newParticipants) {
      if (current.some((c) => c.user === p.user)) {
        throw new ValidationError(`${p.user} is already a participant of ${this.roomUri}; change its role instead`);
      }
    }
    const next = [...current, ...newParticipants];
    for (const kp of keyPackages) {
      const user = credentialUser(keyPackageFromBytes(kp).leafNode.credential);
      if (user === undefined) throw new ValidationError('KeyPackage credential carries no MIMI user URI');
      if (!next.some((p) => p.user === user)) {
        throw new ValidationError(`${user} is not a participant of ${this.roomUri}; add it as one in the same commit`);
      }
    }
    return this.committer.commit(this.groupId, {
      add: keyPackages,
      participants: newParticipants.length > 0 ? next : undefined,
    });
  }

  /**
   * Remove users: every client (leaf) whose credential names one of them, then their entries in
   * the participant list. protocol-06 §5.3 wants both in one commit; ts-mls 1.6.4 cannot commit a
   * GroupContextExtensions change together with a Remove (README.md "Deviations"), so this makes
   * two commits, Removes first: in between, the users are inactive participants (arch-02 §2), a
   * valid room state. Fan the commits out in the returned order.
   * @throws MlsGroupError(NotMember) when a user is neither a participant nor has a client in the group.
   */
  async removeUsers(users: readonly UserUri[]): Promise<StagedCommit[]> {
    const summary = await this.summary();
    for (const user of users) {
      const known = summary.participants.some((p) => p.user === user) || summary.members.some((m) => m.user === user);
      if (!known) throw new MlsGroupError(MlsErrorReason.NotMember, `${user} is not in ${this.roomUri}`);
    }
    const leaves = summary.members
      .filter((m) => m.user !== undefined && users.includes(m.user))
      .map((m) => m.leafIndex);
    if (leaves.includes(summary.ownLeafIndex)) {
      throw new ValidationError(
        `the committer ${this.committer.user} cannot remove itself; another member must commit`,
      );
    }
    const commits: StagedCommit[] = [];
    if (leaves.length > 0) commits.push(await this.committer.commit(this.groupId, { remove: leaves }));
    const remaining = summary.participants.filter((p) => !users.includes(p.user));
    if (remaining.length !== summary.participants.length) {
      commits.push(await this.committer.commit(this.groupId, { participants: remaining }));
    }
    return commits;
  }

  /**
   * Change roles of existing participants (e.g. ban = role 1, room-policy-03) in one commit.
   * @throws MlsGroupError(NotMember) for a user who is not a participant.
   */
  async setRoles(changes: readonly Participant[]): Promise<StagedCommit> {
    const current = await this.participants();
    for (const c of changes) {
      if (!current.some((p) => p.user === c.user)) {
        throw new MlsGroupError(MlsErrorReason.NotMember, `${c.user} is not a participant of ${this.roomUri}`);
      }
    }
    const next = current.map((p) => changes.find((c) => c.user === p.user) ?? p);
    return this.committer.commit(this.groupId, { participants: next });
  }

  /** Commit every queued proposal (e.g. the hub's external Remove) and nothing else. */
  async commitPendingProposals(): Promise<StagedCommit> {
    return this.committer.commit(this.groupId, {});
  }

  /** GroupInfo + ratchet tree for `/groupInfo` (protocol-06 §5.6). */
  async groupInfo(): Promise<GroupInfoBundle> {
    return this.committer.groupInfo(this.groupId);
  }
}
