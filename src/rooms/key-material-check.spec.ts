import type { ProviderDomain, UserUri } from '../common/ids';
import { type KeyMaterialResponse, asKeyPackage, encodeValue } from '../mimi/wire';
import { GroupStore, HubExternalSender, InMemoryMlsStorage } from '../mls';
import { type RequiredCapabilities, requiredCapabilitiesCodec } from '../mls/core/structs/extensions';
import { checkKeyMaterial, requestCameFrom, requestOrigin, requestedCapabilities } from './key-material-check';
import { asRequiredCapabilities } from '../mimi/wire';
import { APP_DATA_DICTIONARY_EXTENSION_TYPE, APP_DATA_UPDATE_PROPOSAL_TYPE } from '../mls';
import { hubKeyMaterialRequest } from './wire-support';

const CAROL = 'mimi://c.example/u/memory:carol' as UserUri;
const DAN = 'mimi://c.example/u/memory:dan' as UserUri;
const ROOM = 'mimi://a.example/r/lobby';
/** What our rooms require (wire-support roomRequiredCapabilities): app_data_dictionary, AppDataUpdate, basic. */
const ROOM_NEEDS: RequiredCapabilities = {
  extensionTypes: [APP_DATA_DICTIONARY_EXTENSION_TYPE],
  proposalTypes: [APP_DATA_UPDATE_PROPOSAL_TYPE],
  credentialTypes: [1],
};
/** An extension type no client of ours supports. */
const UNKNOWN_EXTENSION: RequiredCapabilities = { extensionTypes: [0xff42], proposalTypes: [], credentialTypes: [] };

async function keyPackageOf(user: UserUri): Promise<Uint8Array> {
  return (await new GroupStore(new InMemoryMlsStorage()).createKeyPackage(user)).keyPackage;
}

function answer(clients: KeyMaterialResponse['clients'], userStatus: KeyMaterialResponse['userStatus'] = 'success') {
  return { protocol: 'mls10' as const, userStatus, userUri: CAROL, clients };
}

describe('checkKeyMaterial (a /keyMaterial answer before its KeyPackages are used or passed on)', () => {
  it('keeps a valid KeyPackage of the target with the room’s capabilities, with its ref and lifetime', async () => {
    const kp = await keyPackageOf(CAROL);
    const now = Date.now();
    const checked = checkKeyMaterial(
      answer([{ clientStatus: 'success', clientUri: CAROL, keyPackage: asKeyPackage(kp) }]),
      CAROL,
      ROOM_NEEDS,
      now,
    );
    expect(checked.response.userStatus).toBe('success');
    expect(checked.outcome).toBeUndefined();
    expect(checked.usable).toHaveLength(1);
    expect(checked.usable[0]).toMatchObject({ user: CAROL });
    expect(checked.usable[0]!.ref).toHaveLength(32);
    expect(checked.usable[0]!.notAfter).toBeGreaterThan(now);
  });

  it('turns a KeyPackage without the required capabilities into nothingCompatible, and the user into noCompatibleMaterial', async () => {
    const kp = await keyPackageOf(CAROL);
    const checked = checkKeyMaterial(
      answer([{ clientStatus: 'success', clientUri: CAROL, keyPackage: asKeyPackage(kp) }]),
      CAROL,
      UNKNOWN_EXTENSION,
      Date.now(),
    );
    expect(checked.usable).toEqual([]);
    expect(checked.response.userStatus).toBe('noCompatibleMaterial');
    expect(checked.response.clients).toEqual([{ clientStatus: 'nothingCompatible', clientUri: CAROL }]);
    expect(checked.outcome).toEqual({ kind: 'user', userStatus: 'noCompatibleMaterial' });
  });

  it('drops a KeyPackage of another user (partialSuccess when another client is usable)', async () => {
    const [mine, other] = [await keyPackageOf(CAROL), await keyPackageOf(DAN)];
    const checked = checkKeyMaterial(
      answer([
        { clientStatus: 'success', clientUri: CAROL, keyPackage: asKeyPackage(mine) },
        { clientStatus: 'success', clientUri: `${CAROL}/2`, keyPackage: asKeyPackage(other) },
      ]),
      CAROL,
      ROOM_NEEDS,
      Date.now(),
    );
    expect(checked.usable.map((k) => k.user)).toEqual([CAROL]);
    expect(checked.response.userStatus).toBe('partialSuccess');
    expect(checked.problems).toEqual([`${CAROL}/2: a KeyPackage of ${DAN}, not of ${CAROL}`]);
  });

  it('passes a refusal of the user on as it is, without clients', () => {
    const checked = checkKeyMaterial(answer([], 'noConsent'), CAROL, ROOM_NEEDS, Date.now());
    expect(checked.response).toMatchObject({ userStatus: 'noConsent', clients: [] });
    expect(checked.outcome).toEqual({ kind: 'user', userStatus: 'noConsent' });
  });
});

describe('requestOrigin / requestCameFrom (who made a KeyMaterialRequest, and whether the calling provider may pass it)', () => {
  const b = HubExternalSender.generate('b.example' as ProviderDomain);
  const request = hubKeyMaterialRequest(b, {
    requestingUser: 'mimi://b.example/u/bob',
    targetUser: CAROL,
    roomId: ROOM,
  });

  it('is the provider that signed it for one of its users', () => {
    expect(requestOrigin(request)).toBe('b.example');
    expect(requestCameFrom('b.example' as ProviderDomain, request)).toBe(true);
  });

  it('may come from the hub of its room (passed on, protocol-06 §5.2), not from any other provider', () => {
    expect(requestCameFrom('a.example' as ProviderDomain, request)).toBe(true);
    expect(requestCameFrom('d.example' as ProviderDomain, request)).toBe(false);
    expect(requestCameFrom('a.example' as ProviderDomain, { ...request, roomId: '' })).toBe(false);
  });

  it('is nobody when the signature does not verify or the requesting user is of another provider', () => {
    expect(requestOrigin({ ...request, targetUser: DAN })).toBeUndefined();
    const foreign = hubKeyMaterialRequest(b, {
      requestingUser: 'mimi://a.example/u/al',
      targetUser: CAROL,
      roomId: ROOM,
    });
    expect(requestOrigin(foreign)).toBeUndefined();
  });

  it('reads its requiredCapabilities', () => {
    const bytes = asRequiredCapabilities(encodeValue(UNKNOWN_EXTENSION, requiredCapabilitiesCodec));
    expect(requestedCapabilities({ ...request, requiredCapabilities: bytes })).toEqual(UNKNOWN_EXTENSION);
    expect(requestedCapabilities(request)).toEqual(ROOM_NEEDS);
  });
});
