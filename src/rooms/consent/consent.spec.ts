import type { ProviderDomain, RoomUri } from '../../common/ids';
import { ConsentConfig } from '../../config/consent-config';
import type { GatewayConfig } from '../../config/gateway-config';
import { type ConsentEntry, consentEntryCodec, decodeAll } from '../../mimi/wire';
import type { RoomRepository } from '../../persistence/repositories/room.repository';
import type { RoomLocks } from '../room-locks';
import type { RoomSupport } from '../room-support';
import type { MimiRequester } from '../rooms.tokens';
import { ConsentService } from './consent';

const A = 'a.example' as ProviderDomain;
const B = 'b.example' as ProviderDomain;
const ALICE = 'mimi://a.example/u/memory:alice';
const BOB = 'mimi://b.example/u/memory:bob';
const ROOM = 'mimi://a.example/r/club' as RoomUri;

function setup(consent: Partial<ConsentConfig> = {}, answer?: 'grant' | 'deny') {
  const sent: ConsentEntry[] = [];
  const asks: unknown[][] = [];
  const bridge = {
    platform: 'memory',
    askConsent: async (...a: unknown[]) => {
      asks.push(a);
      return answer;
    },
  };
  const support = {
    domain: A,
    allBridges: () => [bridge],
    bridge: () => bridge,
    groupView: async () => ({ participants: [{ user: BOB, roleIndex: 3 }] }),
  } as unknown as RoomSupport;
  const rooms = { findByUri: async (_: unknown, uri: string) => (uri === ROOM ? { roomUri: ROOM } : undefined) };
  const locks = { run: <T>(_: unknown, f: () => Promise<T>) => f() } as unknown as RoomLocks;
  const requester: MimiRequester = {
    request: async (_d, endpoint, _p, body) => {
      if (endpoint === 'updateConsent') sent.push(decodeAll(body, consentEntryCodec));
      return { status: 201, headers: {}, body: new Uint8Array(0) };
    },
  };
  const config = { consent: Object.assign(new ConsentConfig(), consent) } as GatewayConfig;
  const service = new ConsentService(config, support, rooms as unknown as RoomRepository, locks, requester);
  return { service, sent, asks };
}

const entry = (op: 'request' | 'cancel' | 'grant' | 'revoke', roomId?: string): ConsentEntry =>
  ({
    consentOperation: op,
    requesterUri: BOB,
    targetUri: ALICE,
    ...(roomId ? { roomId } : {}),
    ...(op === 'grant' ? { clientKeyPackages: [] } : {}),
    consentExtensions: { componentData: [] },
  }) as ConsentEntry;

describe('ConsentService.requestConsent', () => {
  it('grants at once in a linked room where the requester takes part', async () => {
    const { service, sent, asks } = setup();
    await service.requestConsent(B, A, entry('request', ROOM));
    await service.settled();
    expect(sent).toMatchObject([{ consentOperation: 'grant', requesterUri: BOB, targetUri: ALICE, roomId: ROOM }]);
    expect(asks).toEqual([]);
  });

  it('asks the user otherwise and sends the answer; with autoGrantLinkedRooms off too', async () => {
    const { service, sent, asks } = setup({ autoGrantLinkedRooms: false }, 'deny');
    await service.requestConsent(B, A, entry('request', ROOM));
    await service.settled();
    expect(asks).toEqual([[{ platform: 'memory', userId: 'alice' }, BOB, ROOM]]);
    expect(sent).toMatchObject([{ consentOperation: 'revoke' }]);
  });

  it('denies at once with otherwise: deny, and sends nothing for an unanswered ask', async () => {
    const deny = setup({ otherwise: 'deny' });
    await deny.service.requestConsent(B, A, entry('request'));
    await deny.service.settled();
    expect(deny.sent).toMatchObject([{ consentOperation: 'revoke' }]);
    const silent = setup({}, undefined);
    await silent.service.requestConsent(B, A, entry('request'));
    await silent.service.settled();
    expect(silent.sent).toEqual([]);
  });

  it('refuses requests that are not for us, of the wrong operation, or of a stranger', async () => {
    const { service } = setup();
    await expect(service.requestConsent(B, B, entry('request'))).rejects.toMatchObject({ code: 'MIMI_BAD_VALUE' });
    await expect(service.requestConsent(B, A, entry('grant'))).rejects.toMatchObject({ code: 'MIMI_BAD_VALUE' });
    await expect(service.requestConsent(A, A, entry('request'))).rejects.toMatchObject({ code: 'MIMI_FORBIDDEN' });
    await expect(
      service.requestConsent(B, A, { ...entry('request'), targetUri: 'mimi://a.example/u/xmpp:nobody' }),
    ).rejects.toMatchObject({ code: 'MIMI_NOT_FOUND' });
  });
});

describe('ConsentService.updateConsent', () => {
  it('records a grant and a later revoke of a peer user for one of ours', () => {
    const { service } = setup();
    const scope = { requesterUri: ALICE, targetUri: BOB };
    service.updateConsent(B, A, { ...entry('grant'), ...scope });
    expect(service.consentOf(scope)).toBe('grant');
    service.updateConsent(B, A, { ...entry('revoke'), ...scope });
    expect(service.consentOf(scope)).toBe('revoke');
    expect(() => service.updateConsent(B, A, { ...entry('request'), ...scope })).toThrow(/grant or revoke/);
    expect(() => service.updateConsent(A, A, { ...entry('grant'), ...scope })).toThrow(/not a user of a.example/);
  });
});
