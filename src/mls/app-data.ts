/**
 * MIMI room state inside the MLS GroupContext: the `app_data_dictionary` extension
 * (draft-ietf-mls-extensions-09 §"Attaching Application Data to MLS Messages") holding the MIMI
 * `participant_list` component (protocol-06 §7.5, component ID 0x0022, §10.3).
 *
 * The dictionary changes by AppDataUpdate proposals (src/mls/core/group/app-data.ts applies them);
 * these are the component codecs and read helpers.
 */
import type { Extension } from './core/structs';
import { CodecError, ValidationError } from '../common/errors';
import type { UserUri } from '../common/ids';
import { TlsReader, writeTls } from '../codec/tls-codec';

/** mls-extensions-09 §IANA "app_data_dictionary" extension type: 0x0006 (suggested value). */
export const APP_DATA_DICTIONARY_EXTENSION_TYPE = 0x0006;
/** mls-extensions-09 §IANA "AppDataUpdate" proposal type: 0x0008 (suggested). */
export const APP_DATA_UPDATE_PROPOSAL_TYPE = 0x0008;

/** MIMI component IDs (protocol-06 §10.1-10.4). */
export enum MimiComponentId {
  /** Franking (protocol-06 §10.1), not used yet; listed so the table is the registry's. @public */
  FrankAad = 0x0020,
  /** Franking (protocol-06 §10.2), not used yet; listed so the table is the registry's. @public */
  FrankingSignatureKey = 0x0021,
  ParticipantList = 0x0022,
  RoomMetadata = 0x0023,
}

/** room-policy-03: role index 0 means "not in the participant list" and never appears in it. */
export const NO_ROLE_INDEX = 0;
/** room-policy-03: role index 1 is the capability-less "banned" role. */
export const BANNED_ROLE_INDEX = 1;

/** `UserRolePair` (protocol-06 §7.5): one participant (a user, not a client) and its single role. */
export interface Participant {
  readonly user: UserUri;
  readonly roleIndex: number;
}

/** `ComponentData` (mls-extensions-09). */
export interface ComponentData {
  readonly componentId: number;
  readonly data: Uint8Array;
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

function checkParticipants(list: readonly Participant[], fail: (message: string) => never): void {
  const seen = new Set<string>();
  for (const p of list) {
    if (p.user.length === 0) fail('empty user URI');
    if (!Number.isInteger(p.roleIndex) || p.roleIndex < 0 || p.roleIndex > 0xffffffff) {
      fail(`role_index ${p.roleIndex} is not a uint32`);
    }
    if (p.roleIndex === NO_ROLE_INDEX) fail(`${p.user} has role_index 0, which means "not a participant"`);
    if (seen.has(p.user)) fail(`${p.user} appears twice`);
    seen.add(p.user);
  }
}

/**
 * Encode `ParticipantListData { UserRolePair participants<V>; }` (protocol-06 §7.5).
 * @throws ValidationError on an empty URI, role index 0 or a duplicate user (each user has exactly one role).
 */
export function encodeParticipantList(list: readonly Participant[]): Uint8Array {
  checkParticipants(list, (m) => {
    throw new ValidationError(`participant_list: ${m}`);
  });
  return writeTls((w) =>
    w.vector(list, (v, p) => {
      v.opaque(utf8.encode(p.user));
      v.uint32(p.roleIndex);
    }),
  );
}

/**
 * Decode `ParticipantListData` (protocol-06 §7.5).
 * @throws CodecError on malformed bytes, invalid UTF-8, role index 0 or a duplicate user.
 */
export function decodeParticipantList(bytes: Uint8Array): Participant[] {
  const r = new TlsReader(bytes, 'ParticipantListData');
  const list = r.vector((item) => {
    const raw = item.opaque();
    let user: string;
    try {
      user = utf8Strict.decode(raw);
    } catch {
      return item.fail('user is not valid UTF-8');
    }
    return { user: user as UserUri, roleIndex: item.uint32() };
  });
  r.done();
  checkParticipants(list, (m) => r.fail(m));
  return list;
}

/**
 * Encode `AppDataDictionary { ComponentData component_data<V>; }`. Entries are written sorted by
 * component ID, as mls-extensions-09 requires.
 * @throws ValidationError if a component ID appears twice or is not a uint16.
 */
export function encodeAppDataDictionary(entries: readonly ComponentData[]): Uint8Array {
  const sorted = [...entries].sort((a, b) => a.componentId - b.componentId);
  sorted.forEach((e, i) => {
    if (!Number.isInteger(e.componentId) || e.componentId < 0 || e.componentId > 0xffff) {
      throw new ValidationError(`app_data_dictionary: component ID ${e.componentId} is not a uint16`);
    }
    if (i > 0 && sorted[i - 1]!.componentId === e.componentId) {
      throw new ValidationError(`app_data_dictionary: component 0x${e.componentId.toString(16)} appears twice`);
    }
  });
  return writeTls((w) =>
    w.vector(sorted, (v, e) => {
      v.uint16(e.componentId);
      v.opaque(e.data);
    }),
  );
}

/**
 * Decode `AppDataDictionary`.
 * @throws CodecError on malformed bytes or entries that are not strictly sorted by component ID.
 */
export function decodeAppDataDictionary(bytes: Uint8Array): ComponentData[] {
  const r = new TlsReader(bytes, 'AppDataDictionary');
  const entries = r.vector((item) => ({ componentId: item.uint16(), data: item.opaque() }));
  r.done();
  for (let i = 1; i < entries.length; i++) {
    if (entries[i]!.componentId <= entries[i - 1]!.componentId) {
      throw new CodecError('AppDataDictionary: component_data is not strictly sorted by component_id');
    }
  }
  return entries;
}

function isAppDataDictionary(e: Extension): boolean {
  return e.extensionType === APP_DATA_DICTIONARY_EXTENSION_TYPE;
}

/** The `app_data_dictionary` entries of a GroupContext's extensions (empty when absent). */
export function appDataFromExtensions(extensions: readonly Extension[]): ComponentData[] {
  const found = extensions.filter(isAppDataDictionary);
  if (found.length > 1) throw new CodecError('GroupContext has more than one app_data_dictionary extension');
  return found[0] === undefined ? [] : decodeAppDataDictionary(found[0].extensionData);
}

/** The MIMI participant list in a GroupContext, or `undefined` when the room has none. */
export function participantListFromExtensions(extensions: readonly Extension[]): Participant[] | undefined {
  const entry = appDataFromExtensions(extensions).find((c) => c.componentId === MimiComponentId.ParticipantList);
  return entry === undefined ? undefined : decodeParticipantList(entry.data);
}

/**
 * A copy of `extensions` whose `app_data_dictionary` carries `list` as its participant_list
 * component. Other components and other extensions are kept in place; the dictionary is appended
 * when absent (mls-extensions-09: "add one to the end of the extensions list").
 */
export function withParticipantList(extensions: readonly Extension[], list: readonly Participant[]): Extension[] {
  const others = appDataFromExtensions(extensions).filter((c) => c.componentId !== MimiComponentId.ParticipantList);
  const dictionary: Extension = {
    extensionType: APP_DATA_DICTIONARY_EXTENSION_TYPE,
    extensionData: encodeAppDataDictionary([
      ...others,
      { componentId: MimiComponentId.ParticipantList, data: encodeParticipantList(list) },
    ]),
  };
  const at = extensions.findIndex(isAppDataDictionary);
  if (at < 0) return [...extensions, dictionary];
  return extensions.map((e, i) => (i === at ? dictionary : e));
}
