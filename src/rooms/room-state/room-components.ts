/**
 * The room state components of a bridged room (beside the participant list): what the hub puts
 * in the group's app_data_dictionary when it links a legacy room, and what it and the followers
 * read back from a GroupContext.
 *
 * - `room_metadata` (protocol-06 §7.6): name, topic (a plain-text description), avatar URL;
 * - `roles_list` (room-policy-03 §3): from the platform's permissions (roles-from-permissions.ts);
 * - `base_room_policy` (room-policy-03 §5): a persistent, multi-device room; open rooms are
 *   `discoverable` (whether anyone may join is role 0's canOpenJoin in roles_list, §8.1.1);
 * - `asset_policy` (room-policy-03 §6.4): asset-policy.ts;
 * - `logging_policy` and `bot_policy` (room-policy-03 §6.5, §6.7): the gateway decrypts every
 *   message for the legacy platform, which keeps them; said so in both components.
 */
import type { ProviderDomain, RoomUri } from '../../common/ids';
import {
  type AssetPolicy,
  type BaseRoomPolicy,
  type Bot,
  type LoggingPolicy,
  type Role,
  type RoomMetadata,
  RoomStateComponentId,
  decodeAssetPolicy,
  decodeBaseRoomPolicy,
  decodeBotPolicy,
  decodeLoggingPolicy,
  decodeRolesList,
  decodeRoomMetadata,
  encodeAssetPolicy,
  encodeBaseRoomPolicy,
  encodeBotPolicy,
  encodeLoggingPolicy,
  encodeRolesList,
  encodeRoomMetadata,
  plainDescription,
} from '../../mimi/room-state';
import { type ComponentData, appDataFromExtensions } from '../../mls';
import { type JoinRule, ParticipantRole, type RoomPermissions } from '../../ports';
import { DEFAULT_ROOM_PERMISSIONS, roleIndexOf, rolesListFor } from './roles-from-permissions';

/** What the legacy room says about itself (a `RoomSnapshot`, or its latest changes). */
export interface LegacyRoomState {
  readonly name?: string;
  readonly topic?: string;
  readonly avatarUrl?: string;
  readonly permissions?: RoomPermissions;
  readonly joinRule: JoinRule;
}

/** Where the room lives: the hub's domain, the room URI and the legacy platform's name. */
export interface RoomIdentity {
  readonly domain: ProviderDomain;
  readonly roomUri: RoomUri;
  readonly platform: string;
}

export function roomMetadataOf(
  room: Pick<RoomIdentity, 'roomUri'>,
  state: Pick<LegacyRoomState, 'name' | 'topic' | 'avatarUrl'>,
): RoomMetadata {
  return {
    roomUri: room.roomUri,
    name: state.name ?? '',
    descriptions: state.topic ? [{ mediaType: '', languageTag: '', content: state.topic }] : [],
    avatarUri: state.avatarUrl ?? '',
    subject: '',
    mood: '',
  };
}

function basePolicyOf(joinRule: JoinRule): BaseRoomPolicy {
  return {
    fixedMembership: false,
    parentDependent: false,
    parentRoom: [],
    multiDevice: true,
    pseudonymsAllowed: false,
    persistentRoom: true,
    discoverable: joinRule === 'public',
    policyComponentIds: [
      RoomStateComponentId.rolesList,
      RoomStateComponentId.assetPolicy,
      RoomStateComponentId.loggingPolicy,
      RoomStateComponentId.botPolicy,
    ],
  };
}

function disclosureOf(room: RoomIdentity): { logging: LoggingPolicy; bots: Bot[] } {
  const gateway = `mimi://${room.domain}`;
  const what =
    `Messages in this room are decrypted by the gateway ${room.domain} and posted to a ${room.platform} ` +
    `room, where ${room.platform} users read and write them and the platform stores them.`;
  return {
    logging: { logging: 'required', loggingClients: [gateway], machineReadablePolicy: '', humanReadablePolicy: '' },
    bots: [
      {
        name: `${room.platform} bridge of ${room.domain}`,
        description: what,
        homepage: '',
        localClientBot: false,
        botRoleIndex: roleIndexOf(ParticipantRole.Owner),
        canTargetMessageInGroup: false,
        perUserContent: false,
      },
    ],
  };
}

/** The roles_list and base_room_policy of a room with these rules. */
export function policyComponents(permissions: RoomPermissions | undefined, joinRule: JoinRule): ComponentData[] {
  return [
    {
      componentId: RoomStateComponentId.rolesList,
      data: encodeRolesList(rolesListFor(permissions ?? DEFAULT_ROOM_PERMISSIONS, joinRule)),
    },
    { componentId: RoomStateComponentId.baseRoomPolicy, data: encodeBaseRoomPolicy(basePolicyOf(joinRule)) },
  ];
}

export function metadataComponent(metadata: RoomMetadata): ComponentData {
  return { componentId: RoomStateComponentId.roomMetadata, data: encodeRoomMetadata(metadata) };
}

/** Every room state component of a newly linked room (sorted by component ID). */
export function roomStateComponents(room: RoomIdentity, state: LegacyRoomState, assets?: AssetPolicy): ComponentData[] {
  const { logging, bots } = disclosureOf(room);
  return [
    metadataComponent(roomMetadataOf(room, state)),
    ...policyComponents(state.permissions, state.joinRule),
    ...(assets ? [{ componentId: RoomStateComponentId.assetPolicy, data: encodeAssetPolicy(assets) }] : []),
    { componentId: RoomStateComponentId.loggingPolicy, data: encodeLoggingPolicy(logging) },
    { componentId: RoomStateComponentId.botPolicy, data: encodeBotPolicy(bots) },
  ].sort((a, b) => a.componentId - b.componentId);
}

/** The room state components a GroupContext carries (each absent when the group has none). */
export interface RoomState {
  readonly metadata?: RoomMetadata;
  readonly roles?: Role[];
  readonly basePolicy?: BaseRoomPolicy;
  readonly logging?: LoggingPolicy;
  readonly bots?: Bot[];
  readonly assets?: AssetPolicy;
}

type Extensions = Parameters<typeof appDataFromExtensions>[0];

/** @throws CodecError when a component is malformed. */
export function readRoomState(extensions: Extensions): RoomState {
  const data = new Map(appDataFromExtensions(extensions).map((c) => [c.componentId, c.data]));
  const read = <T>(id: number, decode: (b: Uint8Array) => T): T | undefined => {
    const bytes = data.get(id);
    return bytes === undefined ? undefined : decode(bytes);
  };
  const metadata = read(RoomStateComponentId.roomMetadata, decodeRoomMetadata);
  const roles = read(RoomStateComponentId.rolesList, decodeRolesList);
  const basePolicy = read(RoomStateComponentId.baseRoomPolicy, decodeBaseRoomPolicy);
  const logging = read(RoomStateComponentId.loggingPolicy, decodeLoggingPolicy);
  const bots = read(RoomStateComponentId.botPolicy, decodeBotPolicy);
  const assets = read(RoomStateComponentId.assetPolicy, decodeAssetPolicy);
  return {
    ...(assets ? { assets } : {}),
    ...(metadata ? { metadata } : {}),
    ...(roles ? { roles } : {}),
    ...(basePolicy ? { basePolicy } : {}),
    ...(logging ? { logging } : {}),
    ...(bots ? { bots } : {}),
  };
}

/** The roles a GroupContext's roles_list defines; a group without one (linked before it existed) has the default roles. */
export function rolesOf(extensions: Extensions): Role[] {
  return readRoomState(extensions).roles ?? rolesListFor(DEFAULT_ROOM_PERMISSIONS, 'invite');
}

/**
 * `current` (or an empty room_metadata of `roomUri`) with a legacy room's name/topic/avatar change
 * applied: a field left out stays, an empty string clears it.
 */
export function withLegacyChange(
  current: RoomMetadata | undefined,
  roomUri: RoomUri,
  change: Pick<LegacyRoomState, 'name' | 'topic' | 'avatarUrl'>,
): RoomMetadata {
  const base = current ?? roomMetadataOf({ roomUri }, {});
  return {
    ...base,
    name: change.name ?? base.name,
    descriptions:
      change.topic === undefined
        ? base.descriptions
        : roomMetadataOf({ roomUri }, { topic: change.topic }).descriptions,
    avatarUri: change.avatarUrl ?? base.avatarUri,
  };
}

/** The name and topic a mirror room shows. */
function displayedMetadata(metadata: RoomMetadata): { name: string; topic: string; avatarUrl: string } {
  return { name: metadata.name, topic: plainDescription(metadata), avatarUrl: metadata.avatarUri };
}

/** The name and/or topic to set on a platform room when its metadata goes from `before` to `after` (undefined: none). */
export function detailsChange(
  before: RoomMetadata | undefined,
  after: RoomMetadata | undefined,
): { name?: string; topic?: string } | undefined {
  if (after === undefined) return undefined;
  const was = before ? displayedMetadata(before) : undefined;
  const now = displayedMetadata(after);
  const details = {
    ...(was?.name !== now.name ? { name: now.name } : {}),
    ...(was?.topic !== now.topic ? { topic: now.topic } : {}),
  };
  return Object.keys(details).length === 0 ? undefined : details;
}

/** The components of `wanted` whose bytes differ from those in `extensions`. */
export function changedComponents(extensions: Extensions, wanted: readonly ComponentData[]): ComponentData[] {
  const current = new Map(appDataFromExtensions(extensions).map((c) => [c.componentId, c.data]));
  return wanted.filter((w) => {
    const now = current.get(w.componentId);
    return now === undefined || Buffer.compare(Buffer.from(now), Buffer.from(w.data)) !== 0;
  });
}
