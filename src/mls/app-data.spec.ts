import fc from 'fast-check';
import type { Extension } from './core/structs';
import { CodecError, ValidationError } from '../common/errors';
import {
  APP_DATA_DICTIONARY_EXTENSION_TYPE,
  MimiComponentId,
  type Participant,
  appDataFromExtensions,
  decodeAppDataDictionary,
  decodeParticipantList,
  encodeAppDataDictionary,
  encodeParticipantList,
  participantListFromExtensions,
  withParticipantList,
} from './app-data';
import { type UserUri, userUri } from '../common/ids';

const ALICE: UserUri = userUri('hub.example', 'alice');
const BOB: UserUri = userUri('hub.example', 'bob');
const ROLE_MEMBER = 2;
const ROLE_ADMIN = 4;
const asParticipant = (user: UserUri, roleIndex: number): Participant => ({ user, roleIndex });

const SHORT_USER = 'mimi://a.example/u/alice' as UserUri;
const ROLE_FOUR = 4;
/** A user URI of 70 bytes, so its length needs the 2-byte varint form (RFC 9420 §2.1.2). */
const LONG_USER = `mimi://a.example/u/${'x'.repeat(51)}` as UserUri;
const METADATA_BYTES = Uint8Array.of(1, 2);
const OTHER_EXTENSION: Extension = { extensionType: 0xff01, extensionData: Uint8Array.of(9) };
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('encodeParticipantList / decodeParticipantList', () => {
  it('writes ParticipantListData as protocol-06 §7.5 lays it out', () => {
    const encoded = encodeParticipantList([{ user: SHORT_USER, roleIndex: ROLE_FOUR }]);
    // participants<V>: 29 bytes = user<V> (1 + 24 bytes) + uint32 role_index.
    expect(hex(encoded)).toBe(`1d18${hex(Buffer.from(SHORT_USER))}00000004`);
    expect(decodeParticipantList(encoded)).toEqual([{ user: SHORT_USER, roleIndex: ROLE_FOUR }]);
  });

  it('uses the 2-byte varint for a user URI longer than 63 bytes', () => {
    const encoded = encodeParticipantList([{ user: LONG_USER, roleIndex: ROLE_MEMBER }]);
    expect(LONG_USER.length).toBe(70);
    // participants<V> of 76 bytes (0x404c), then user<V> of 70 bytes (0x4046).
    expect(hex(encoded.subarray(0, 4))).toBe('404c4046');
    expect(decodeParticipantList(encoded)).toEqual([{ user: LONG_USER, roleIndex: ROLE_MEMBER }]);
  });

  it('round-trips any valid list', () => {
    const participant = fc.record({
      user: fc
        .string({ minLength: 1, maxLength: 80, unit: 'grapheme' })
        .map((s) => `mimi://a.example/u/${s}` as UserUri),
      roleIndex: fc.integer({ min: 1, max: 0xffffffff }),
    });
    fc.assert(
      fc.property(fc.uniqueArray(participant, { selector: (p) => p.user, maxLength: 20 }), (list) => {
        expect(decodeParticipantList(encodeParticipantList(list))).toEqual(list);
      }),
    );
  });

  it('refuses a user listed twice and role index 0 ("not a participant", room-policy-03)', () => {
    expect(() => encodeParticipantList([asParticipant(ALICE, ROLE_ADMIN), asParticipant(ALICE, ROLE_MEMBER)])).toThrow(
      ValidationError,
    );
    expect(() => encodeParticipantList([asParticipant(ALICE, 0)])).toThrow(ValidationError);
    const duplicate = Buffer.concat([Buffer.from('3a', 'hex'), ...[0, 1].map(() => one(SHORT_USER))]);
    expect(() => decodeParticipantList(duplicate)).toThrow(/appears twice/);
  });

  it('refuses malformed bytes with a CodecError', () => {
    const valid = encodeParticipantList([asParticipant(ALICE, ROLE_ADMIN)]);
    expect(() => decodeParticipantList(valid.subarray(0, valid.length - 1))).toThrow(CodecError);
    expect(() => decodeParticipantList(Buffer.concat([valid, Uint8Array.of(0)]))).toThrow(/trailing/);
    expect(() => decodeParticipantList(Uint8Array.of(0x40, 0x00))).toThrow(/non-minimal varint/);
    expect(() => decodeParticipantList(Uint8Array.of(0x06, 0x01, 0xff, 0, 0, 0, 2))).toThrow(/UTF-8/);
  });
});

/** One UserRolePair with role 2, encoded. */
function one(user: UserUri): Buffer {
  const u = Buffer.from(user);
  return Buffer.concat([Buffer.from([u.length]), u, Buffer.from('00000002', 'hex')]);
}

describe('encodeAppDataDictionary / decodeAppDataDictionary', () => {
  it('sorts components by ID (mls-extensions-09) and round-trips', () => {
    const encoded = encodeAppDataDictionary([
      { componentId: MimiComponentId.RoomMetadata, data: METADATA_BYTES },
      { componentId: MimiComponentId.ParticipantList, data: Uint8Array.of(3) },
    ]);
    expect(hex(encoded)).toBe('09' + '0022' + '0103' + '0023' + '020102');
    expect(decodeAppDataDictionary(encoded).map((c) => c.componentId)).toEqual([0x22, 0x23]);
  });

  it('refuses duplicate or unsorted components', () => {
    const entry = { componentId: MimiComponentId.ParticipantList, data: new Uint8Array() };
    expect(() => encodeAppDataDictionary([entry, entry])).toThrow(ValidationError);
    expect(() => decodeAppDataDictionary(Buffer.from('06002300002200', 'hex'))).toThrow(/strictly sorted/);
  });
});

describe('withParticipantList', () => {
  const list: Participant[] = [asParticipant(ALICE, ROLE_ADMIN), asParticipant(BOB, ROLE_MEMBER)];

  it('appends an app_data_dictionary when there is none, keeping other extensions', () => {
    const extensions = withParticipantList([OTHER_EXTENSION], list);
    expect(extensions[0]).toBe(OTHER_EXTENSION);
    expect(extensions[1]?.extensionType).toBe(APP_DATA_DICTIONARY_EXTENSION_TYPE);
    expect(participantListFromExtensions(extensions)).toEqual(list);
  });

  it('replaces only the participant_list component, in place', () => {
    const withMetadata: Extension[] = [
      {
        extensionType: APP_DATA_DICTIONARY_EXTENSION_TYPE,
        extensionData: encodeAppDataDictionary([{ componentId: MimiComponentId.RoomMetadata, data: METADATA_BYTES }]),
      },
      OTHER_EXTENSION,
    ];
    const updated = withParticipantList(withParticipantList(withMetadata, list), [asParticipant(BOB, ROLE_ADMIN)]);
    expect(updated.map((e) => e.extensionType)).toEqual([APP_DATA_DICTIONARY_EXTENSION_TYPE, 0xff01]);
    expect(participantListFromExtensions(updated)).toEqual([asParticipant(BOB, ROLE_ADMIN)]);
    expect(appDataFromExtensions(updated).find((c) => c.componentId === MimiComponentId.RoomMetadata)?.data).toEqual(
      METADATA_BYTES,
    );
  });

  it('reads no participant list from a GroupContext without one', () => {
    expect(participantListFromExtensions([OTHER_EXTENSION])).toBeUndefined();
  });
});
