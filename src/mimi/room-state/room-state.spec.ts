import { CodecError, ValidationError } from '../../common/errors';
import { type BaseRoomPolicy, decodeBaseRoomPolicy, encodeBaseRoomPolicy } from './base-room-policy';
import { Capability } from './component-ids';
import { decodeBotPolicy, decodeLoggingPolicy, encodeBotPolicy, encodeLoggingPolicy } from './disclosure-policies';
import { type Role, decodeRolesList, encodeRolesList, roleHas, roleMayChange } from './roles-list';
import { decodeRoomMetadata, encodeRoomMetadata, plainDescription } from './room-metadata';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h.replace(/\s/g, ''), 'hex'));

const BANNED: Role = {
  roleIndex: 1,
  roleName: 'banned',
  roleDescription: '',
  capabilities: [],
  minimumParticipants: 0,
  minimumActiveParticipants: 0,
  maximumActiveParticipants: 0,
  authorizedRoleChanges: [],
};
const MEMBER: Role = {
  roleIndex: 3,
  roleName: 'member',
  roleDescription: 'may talk',
  capabilities: [Capability.canSendMessage, Capability.canRemoveSelf],
  minimumParticipants: 0,
  minimumActiveParticipants: 0,
  authorizedRoleChanges: [{ fromRoleIndex: 3, targetRoleIndexes: [0] }],
};

describe('roles_list (room-policy-03 §3)', () => {
  it('encodes a Role field by field as the draft orders them', () => {
    expect(hex(encodeRolesList([BANNED]))).toBe(
      [
        '1c', // roles<V>: 28 bytes
        '00000001', // role_index
        '06' + hex(new TextEncoder().encode('banned')),
        '00', // role_description
        '00', // role_capabilities
        '00000000', // minimum_participants_constraint
        '00', // maximum_participants_constraint absent
        '00000000', // minimum_active_participants_constraint
        '01' + '00000000', // maximum_active_participants_constraint = 0
        '00', // authorized_role_changes
      ].join(''),
    );
  });

  it('round-trips roles with capabilities, constraints and role changes', () => {
    const roles = [
      BANNED,
      MEMBER,
      { ...MEMBER, roleIndex: 0, roleName: 'none', capabilities: [Capability.canOpenJoin] },
    ];
    const back = decodeRolesList(encodeRolesList(roles));
    expect(back).toEqual(roles);
    expect(roleHas(back, 3, Capability.canSendMessage)).toBe(true);
    expect(roleHas(back, 1, Capability.canSendMessage)).toBe(false);
    expect(roleHas(back, 9, Capability.canSendMessage)).toBe(false);
    expect(roleMayChange(back, 3, 3, 0)).toBe(true);
    expect(roleMayChange(back, 3, 3, 1)).toBe(false);
  });

  it.each([
    ['a duplicate role index', [MEMBER, MEMBER]],
    ['role 1 not named banned', [{ ...BANNED, roleName: 'outcast' }]],
    ['canOpenJoin off role 0', [{ ...MEMBER, capabilities: [Capability.canOpenJoin] }]],
    ['a maximum below the minimum', [{ ...MEMBER, minimumParticipants: 3, maximumParticipants: 2 }]],
    ['a capability twice', [{ ...MEMBER, capabilities: [Capability.canBan, Capability.canBan] }]],
  ])('refuses to write %s', (_what, roles) => {
    expect(() => encodeRolesList(roles as Role[])).toThrow(ValidationError);
  });

  it('refuses malformed bytes: truncation, trailing bytes, bad optional octet, invalid UTF-8, semantic errors', () => {
    const good = encodeRolesList([BANNED]);
    expect(() => decodeRolesList(good.subarray(0, good.length - 1))).toThrow(CodecError);
    expect(() => decodeRolesList(Uint8Array.from([...good, 0]))).toThrow(CodecError);
    const badOptional = Uint8Array.from(good);
    badOptional[1 + 4 + 7 + 1 + 1 + 4] = 2; // maximum_participants_constraint presence octet
    expect(() => decodeRolesList(badOptional)).toThrow(/presence octet/);
    const badName = Uint8Array.from(good);
    badName[6] = 0xff; // inside "banned"
    expect(() => decodeRolesList(badName)).toThrow(/UTF-8/);
    // A well-formed list whose role 1 is called "admin" is refused on reading too.
    const renamed = hex(good).replace(hex(new TextEncoder().encode('banned')), hex(new TextEncoder().encode('admins')));
    expect(() => decodeRolesList(bytes(renamed))).toThrow(/role 1 must be named/);
  });
});

describe('base_room_policy (room-policy-03 §5)', () => {
  const policy: BaseRoomPolicy = {
    fixedMembership: false,
    parentDependent: false,
    parentRoom: [],
    multiDevice: true,
    maxUsers: 500,
    pseudonymsAllowed: false,
    persistentRoom: true,
    discoverable: false,
    policyComponentIds: [0x25, 0x2d, 0x2f],
  };

  it('encodes the draft layout and round-trips', () => {
    expect(hex(encodeBaseRoomPolicy(policy))).toBe(
      '00' + '00' + '00' + '01' + '00' + '01000001f4' + '00' + '01' + '00' + '06002500' + '2d002f',
    );
    expect(decodeBaseRoomPolicy(encodeBaseRoomPolicy(policy))).toEqual(policy);
    const child = { ...policy, parentDependent: true, parentRoom: ['mimi://a.example/r/parent'], maxClients: 3 };
    expect(decodeBaseRoomPolicy(encodeBaseRoomPolicy(child))).toEqual(child);
  });

  it('refuses a parent room without parent_dependent, a bool other than 0/1 and short input', () => {
    expect(() => encodeBaseRoomPolicy({ ...policy, parentRoom: ['mimi://a.example/r/x'] })).toThrow(ValidationError);
    const good = encodeBaseRoomPolicy(policy);
    const badBool = Uint8Array.from(good);
    badBool[0] = 2;
    expect(() => decodeBaseRoomPolicy(badBool)).toThrow(/bool must be 0 or 1/);
    expect(() => decodeBaseRoomPolicy(good.subarray(0, 5))).toThrow(CodecError);
    const dependentWithoutParent = Uint8Array.from(good);
    dependentWithoutParent[1] = 1;
    expect(() => decodeBaseRoomPolicy(dependentWithoutParent)).toThrow(/parent_room/);
  });
});

describe('room_metadata (protocol-06 §7.6)', () => {
  const meta = {
    roomUri: 'mimi://a.example/r/club',
    name: 'Club',
    descriptions: [{ mediaType: '', languageTag: 'en', content: 'Weekly meetings' }],
    avatarUri: 'https://a.example/avatar.png',
    subject: '',
    mood: '',
  };

  it('round-trips and gives the plain-text description', () => {
    const back = decodeRoomMetadata(encodeRoomMetadata(meta));
    expect(back).toEqual(meta);
    expect(plainDescription(back)).toBe('Weekly meetings');
    expect(plainDescription({ ...meta, descriptions: [] })).toBe('');
  });

  it('refuses NUL in a UTF8String, truncation and trailing bytes', () => {
    expect(() => encodeRoomMetadata({ ...meta, name: 'a\u0000b' })).toThrow(CodecError);
    const withNul = encodeRoomMetadata({ ...meta, name: 'aXb' });
    withNul[withNul.indexOf(0x58)] = 0;
    expect(() => decodeRoomMetadata(withNul)).toThrow(/NUL/);
    const good = encodeRoomMetadata(meta);
    expect(() => decodeRoomMetadata(good.subarray(0, good.length - 1))).toThrow(CodecError);
    expect(() => decodeRoomMetadata(Uint8Array.from([...good, 0]))).toThrow(/trailing/);
  });
});

describe('logging_policy and bot_policy (room-policy-03 §6.5, §6.7)', () => {
  it('round-trips the three Optionality cases; forbidden carries nothing', () => {
    expect(hex(encodeLoggingPolicy({ logging: 'forbidden' }))).toBe('02');
    const on = {
      logging: 'required' as const,
      loggingClients: ['mimi://a.example/d/gateway'],
      machineReadablePolicy: '',
      humanReadablePolicy: 'https://a.example/bridge-policy',
    };
    expect(decodeLoggingPolicy(encodeLoggingPolicy(on))).toEqual(on);
    const optional = { ...on, logging: 'optional' as const, loggingClients: [] };
    expect(decodeLoggingPolicy(encodeLoggingPolicy(optional))).toEqual(optional);
  });

  it('refuses required logging without a client, an unknown Optionality and trailing bytes', () => {
    const required = {
      logging: 'required' as const,
      loggingClients: [],
      machineReadablePolicy: '',
      humanReadablePolicy: '',
    };
    expect(() => encodeLoggingPolicy(required)).toThrow(ValidationError);
    expect(() => decodeLoggingPolicy(bytes('01 00 00 00'))).toThrow(/without a logging client/);
    expect(() => decodeLoggingPolicy(bytes('03'))).toThrow(/unknown Optionality/);
    expect(() => decodeLoggingPolicy(bytes('02 00'))).toThrow(/trailing/);
  });

  it('round-trips bots and refuses a bad bool', () => {
    const bots = [
      {
        name: 'matrix bridge',
        description: 'decrypts at a.example',
        homepage: 'https://a.example',
        localClientBot: false,
        botRoleIndex: 6,
        canTargetMessageInGroup: false,
        perUserContent: false,
      },
    ];
    const encoded = encodeBotPolicy(bots);
    expect(decodeBotPolicy(encoded)).toEqual(bots);
    const bad = Uint8Array.from(encoded);
    bad[encoded.length - 1] = 7;
    expect(() => decodeBotPolicy(bad)).toThrow(/bool/);
  });
});
