import type { Intent, MembershipCache, UserMembership } from 'matrix-appservice-bridge';
import { type JoinRule, type LegacyRoomRef, ParticipantRole, type RoomSnapshot } from '../../src/ports';
import {
  type MapperContext,
  type MatrixEvent,
  type PowerLevelsContent,
  creatorsOf,
  powerLevelOf,
  roleForPowerLevel,
  sendLevelOf,
  userRef,
} from './matrix-event.mapper';
import { BoundedMap } from '../kit/bounded-map';
import { mediaDownloadUrl } from './matrix-ids';
import { matrixErrcode, matrixStatus, toPlatformError } from './matrix-errors';
import { permissionsFromPowerLevels } from './power-permissions';

export interface RoomStateReaderDeps {
  /** The bot's intent (throws while the bridge is not started). */
  readonly bot: () => Intent;
  /** The mapper context (ids, homeserver URL, display names). */
  readonly ctx: () => MapperContext;
  /** The shared member cache, refreshed from the state a snapshot reads. */
  readonly membership: MembershipCache;
  /** Entries the creators cache keeps. */
  readonly bounded: number;
}

/**
 * The bot's reads of Matrix room state (power levels, creators, join rule, the whole snapshot)
 * and the caches they fill: the latest power levels per room (for role changes without
 * prev_content) and the creators of rooms of version 12 and later (m.room.create never changes).
 */
export class RoomStateReader {
  /** Latest power levels seen per room, for role changes without prev_content. */
  private readonly powerLevels = new Map<string, PowerLevelsContent>();
  /** Creators of rooms of version 12 and later (infinite power level), per room; m.room.create never changes. */
  private readonly creators: BoundedMap<string, ReadonlySet<string>>;

  constructor(private readonly deps: RoomStateReaderDeps) {
    this.creators = new BoundedMap<string, ReadonlySet<string>>(deps.bounded);
  }

  /** The power levels last seen for a room (from an event, a read or our own change). */
  knownPowerLevels(roomId: string): PowerLevelsContent | undefined {
    return this.powerLevels.get(roomId);
  }

  rememberPowerLevels(roomId: string, pl: PowerLevelsContent): void {
    this.powerLevels.set(roomId, pl);
  }

  async roomPowerLevels(roomId: string): Promise<PowerLevelsContent | undefined> {
    try {
      const pl = (await this.deps
        .bot()
        .matrixClient.getRoomStateEvent(roomId, 'm.room.power_levels', '')) as PowerLevelsContent;
      this.powerLevels.set(roomId, pl);
      return pl;
    } catch (e) {
      if (matrixStatus(e) === 404) return undefined;
      throw toPlatformError(e, `read power levels of ${roomId}`);
    }
  }

  async roomCreators(roomId: string): Promise<ReadonlySet<string>> {
    const known = this.creators.get(roomId);
    if (known) return known;
    const state = (await this.deps.bot().matrixClient.getRoomState(roomId)) as MatrixEvent[];
    return this.rememberCreators(roomId, state);
  }

  private rememberCreators(roomId: string, state: readonly MatrixEvent[]): ReadonlySet<string> {
    const set = creatorsOf(state.find((e) => e.type === 'm.room.create' && e.state_key === ''));
    this.creators.set(roomId, set);
    return set;
  }

  /**
   * `public` when the room's `m.room.join_rules` is `public` (anyone may join, so may MIMI users
   * of other providers, by external commit); every other rule (invite, knock, restricted,
   * private) is `invite`.
   */
  async joinRule(roomId: string): Promise<JoinRule> {
    try {
      const content = (await this.deps.bot().matrixClient.getRoomStateEvent(roomId, 'm.room.join_rules', '')) as {
        join_rule?: unknown;
      };
      return content.join_rule === 'public' ? 'public' : 'invite';
    } catch (e) {
      // A room without the event is private (Matrix spec: the default join rule is invite).
      if (matrixErrcode(e) === 'M_NOT_FOUND') return 'invite';
      throw e;
    }
  }

  async snapshot(room: LegacyRoomRef): Promise<RoomSnapshot> {
    const ctx = this.deps.ctx();
    const state = (await this.deps.bot().matrixClient.getRoomState(room.roomId)) as MatrixEvent[];
    const get = (type: string): Record<string, unknown> | undefined =>
      state.find((e) => e.type === type && e.state_key === '')?.content;
    const pl = get('m.room.power_levels') as PowerLevelsContent | undefined;
    if (pl) this.powerLevels.set(room.roomId, pl);
    const creators = this.rememberCreators(room.roomId, state);
    const name = get('m.room.name')?.['name'];
    const topic = get('m.room.topic')?.['topic'];
    const avatar = get('m.room.avatar')?.['url'];
    const avatarUrl = typeof avatar === 'string' ? mediaDownloadUrl(ctx.homeserverUrl, avatar) : undefined;
    const members: RoomSnapshot['members'][number][] = [];
    for (const e of state) {
      if (e.type !== 'm.room.member' || e.state_key === undefined || e.state_key === ctx.ids.botUserId) continue;
      const m = e.content['membership'];
      const dn = typeof e.content['displayname'] === 'string' ? e.content['displayname'] : undefined;
      this.deps.membership.setMemberEntry(
        room.roomId,
        e.state_key,
        (typeof m === 'string' ? m : null) as UserMembership,
        dn ? { displayname: dn } : {},
      );
      if (m !== 'join' && m !== 'invite' && m !== 'ban') continue;
      const role =
        m === 'ban'
          ? ParticipantRole.Banned
          : roleForPowerLevel(powerLevelOf(pl, e.state_key, creators), sendLevelOf(pl));
      members.push({ user: userRef(ctx, room.roomId, e.state_key, dn), role });
    }
    return {
      room,
      permissions: permissionsFromPowerLevels(pl),
      joinRule: get('m.room.join_rules')?.['join_rule'] === 'public' ? 'public' : 'invite',
      ...(typeof name === 'string' ? { name } : {}),
      ...(typeof topic === 'string' ? { topic } : {}),
      ...(avatarUrl !== undefined ? { avatarUrl } : {}),
      members,
    };
  }
}
