import { ErrorCode, GatewayError } from '../common/errors';
import type { ProviderDomain } from '../common/ids';
import type { IdentifierRequest, QueryElement } from '../mimi/wire';
import type { PlatformBridge, UserLookup } from '../ports';
import { IdentifierQueries } from './identifier-query';
import type { RoomSupport } from './room-support';

const OURS = 'b.example' as ProviderDomain;
const PEER = 'a.example' as ProviderDomain;

/** A bridge whose users are `handles` (handle → user ID, display name); nicks are the user IDs. */
function directory(
  platform: string,
  handles: Record<string, { userId: string; displayName?: string }>,
): PlatformBridge {
  return {
    platform,
    async lookupUser(search: { type: 'handle' | 'nick'; value: string }): Promise<UserLookup> {
      const hit =
        search.type === 'handle'
          ? handles[search.value]
          : Object.values(handles).find((h) => h.userId.startsWith(`${search.value}@`));
      if (hit) return { kind: 'found', ...hit };
      return search.value.startsWith(`${platform}:`)
        ? { kind: 'notFound', reason: 'no such user' }
        : { kind: 'notMine' };
    },
  } as unknown as PlatformBridge;
}

function queries(...bridges: PlatformBridge[]): IdentifierQueries {
  return new IdentifierQueries({ domain: OURS, allBridges: () => bridges } as unknown as RoomSupport);
}

const request = (...queryElements: QueryElement[]): IdentifierRequest => ({
  queryElements,
  idRequestExtensions: { componentData: [] },
});
const handle = (searchValue: string): QueryElement => ({ searchType: 'handle', searchValue });

describe(IdentifierQueries.name, () => {
  const xmpp = directory('xmpp', {
    'xmpp:bob@b.test': { userId: 'bob@b.test', displayName: 'Bob' },
    'xmpp:carol@b.test': { userId: 'carol@b.test' },
  });
  const memory = directory('memory', {});

  it('answers a handle of one of our users with their MIMI user URI and display name (vCard FN)', async () => {
    const answer = await queries(memory, xmpp).answer(PEER, OURS, request(handle('xmpp:bob@b.test')));
    expect(answer.responseCode).toBe('success');
    expect(answer.uri).toEqual(['mimi://b.example/u/xmpp:bob%40b.test']);
    expect(answer.foundProfiles).toEqual([
      {
        stableUri: 'mimi://b.example/u/xmpp:bob%40b.test',
        fields: [{ fieldSource: 'vcardField', fieldName: 'FN', fieldValue: new TextEncoder().encode('Bob') }],
      },
    ]);
  });

  it('answers notFound for a user no bridge has, and for an address of no bridge', async () => {
    for (const value of ['xmpp:nobody@b.test', '@carol:elsewhere']) {
      const answer = await queries(xmpp).answer(PEER, OURS, request(handle(value)));
      expect(answer).toEqual({
        responseCode: 'notFound',
        uri: [],
        foundProfiles: [],
        idResponseExtensions: { componentData: [] },
      });
    }
  });

  it('ANDs several elements: a handle and the nick of the same user match, of different users do not', async () => {
    const q = queries(xmpp);
    const same = await q.answer(
      PEER,
      OURS,
      request(handle('xmpp:carol@b.test'), { searchType: 'nick', searchValue: 'carol' }),
    );
    expect(same.uri).toEqual(['mimi://b.example/u/xmpp:carol%40b.test']);
    const different = await q.answer(
      PEER,
      OURS,
      request(handle('xmpp:carol@b.test'), { searchType: 'nick', searchValue: 'bob' }),
    );
    expect(different.responseCode).toBe('notFound');
  });

  it('refuses search types the platforms cannot answer (unsupportedField) and an empty query (forbidden)', async () => {
    const q = queries(xmpp);
    expect((await q.answer(PEER, OURS, request({ searchType: 'email', searchValue: 'bob@b.test' }))).responseCode).toBe(
      'unsupportedField',
    );
    expect(
      (
        await q.answer(
          PEER,
          OURS,
          request(handle('xmpp:bob@b.test'), { searchType: 'oidcStdClaim', claimName: 'email', searchValue: 'x' }),
        )
      ).responseCode,
    ).toBe('unsupportedField');
    expect((await q.answer(PEER, OURS, request())).responseCode).toBe('forbidden');
  });

  it('refuses a query for another provider with 404 MIMI_NOT_FOUND', async () => {
    const error = await queries(xmpp)
      .answer(PEER, 'c.example' as ProviderDomain, request(handle('xmpp:bob@b.test')))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).code).toBe(ErrorCode.NotFound);
  });

  it('passes on a bridge that cannot be asked now (the endpoint answers with its error)', async () => {
    const down = {
      platform: 'matrix',
      lookupUser: () => Promise.reject(new Error('homeserver down')),
    } as unknown as PlatformBridge;
    await expect(queries(down).answer(PEER, OURS, request(handle('@a:hs')))).rejects.toThrow('homeserver down');
  });
});
