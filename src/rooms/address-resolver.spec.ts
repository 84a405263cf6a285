import { ErrorCode, GatewayError } from '../common/errors';
import type { GatewayConfig } from '../config/gateway-config';
import {
  type IdentifierResponse,
  decodeAll,
  encodeValue,
  identifierRequestCodec,
  identifierResponseCodec,
} from '../mimi/wire';
import { AddressResolver, addressDomain } from './address-resolver';
import type { MimiRequester } from './rooms.tokens';

const CONFIG = {
  peers: [
    { domain: 'b.example', addressDomains: ['xmpp.b.test'] },
    { domain: 'a.example', addressDomains: ['hs.a.test'] },
  ],
} as unknown as GatewayConfig;

const answer = (r: Partial<IdentifierResponse>): Uint8Array =>
  encodeValue(
    { responseCode: 'success', uri: [], foundProfiles: [], idResponseExtensions: { componentData: [] }, ...r },
    identifierResponseCodec,
  );

/** A requester that records what it was asked and answers `reply`. */
function requester(reply: { status: number; body: Uint8Array } | Error): MimiRequester & { asked: unknown[] } {
  const asked: unknown[] = [];
  return {
    asked,
    request: (domain, endpoint, pathUri, body) => {
      asked.push({ domain, endpoint, pathUri, query: decodeAll(body, identifierRequestCodec).queryElements });
      return reply instanceof Error ? Promise.reject(reply) : Promise.resolve(reply);
    },
  };
}

async function refusal(p: Promise<unknown>): Promise<GatewayError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(GatewayError);
  return e as GatewayError;
}

describe(addressDomain.name, () => {
  it.each([
    ['xmpp:bob@b.test', 'b.test'],
    ['xmpp:bob@B.Test/phone?join', 'b.test'],
    ['bob@b.test', 'b.test'],
    ['@carol:hs.example', 'hs.example'],
    ['@carol:hs.example:8448', 'hs.example:8448'],
    ['matrix:u/carol:hs.example?action=chat', 'hs.example'],
  ])('%s → %s', (address, domain) => expect(addressDomain(address)).toBe(domain));

  it.each(['bob', '@carol', 'xmpp:', 'http://b.test/bob', ''])('%j is no address', (address) =>
    expect(addressDomain(address)).toBeUndefined(),
  );
});

describe(AddressResolver.name, () => {
  it('asks the peer that claims the address domain, with one handle element, and returns its user URI', async () => {
    const peer = requester({ status: 200, body: answer({ uri: ['mimi://b.example/u/xmpp:bob%40xmpp.b.test'] }) });
    await expect(new AddressResolver(CONFIG, peer).resolve(' xmpp:bob@xmpp.b.test ')).resolves.toBe(
      'mimi://b.example/u/xmpp:bob%40xmpp.b.test',
    );
    expect(peer.asked).toEqual([
      {
        domain: 'b.example',
        endpoint: 'identifierQuery',
        pathUri: 'b.example',
        query: [{ searchType: 'handle', searchValue: 'xmpp:bob@xmpp.b.test' }],
      },
    ]);
  });

  it('asks the provider named by the domain when no peer claims it, and takes a MIMI user URI as it is', async () => {
    const peer = requester({ status: 200, body: answer({ uri: ['mimi://native.example/u/dora'] }) });
    const resolver = new AddressResolver(CONFIG, peer);
    await expect(resolver.resolve('@dora:native.example')).resolves.toBe('mimi://native.example/u/dora');
    expect(peer.asked).toMatchObject([{ domain: 'native.example' }]);
    await expect(resolver.resolve('mimi://c.example/u/cy')).resolves.toBe('mimi://c.example/u/cy');
    expect(peer.asked).toHaveLength(1);
  });

  it.each([
    ['notFound', ErrorCode.NotFound, 'b.example has no user xmpp:nobody@xmpp.b.test (notFound)'],
    ['forbidden', ErrorCode.Forbidden, 'b.example does not let us look up xmpp:nobody@xmpp.b.test (forbidden)'],
    ['ambiguous', ErrorCode.Conflict, '(ambiguous)'],
    ['unsupportedField', ErrorCode.BadValue, '(unsupportedField)'],
  ] as const)('refuses with the provider’s answer %s', async (responseCode, code, message) => {
    const e = await refusal(
      new AddressResolver(CONFIG, requester({ status: 200, body: answer({ responseCode }) })).resolve(
        'xmpp:nobody@xmpp.b.test',
      ),
    );
    expect(e.code).toBe(code);
    expect(e.message).toContain(message);
  });

  it('refuses what is no address, and an address with no provider, without asking anyone', async () => {
    const peer = requester(new Error('not to be asked'));
    const resolver = new AddressResolver(CONFIG, peer);
    expect((await refusal(resolver.resolve('bob'))).code).toBe(ErrorCode.BadValue);
    expect((await refusal(resolver.resolve('mimi://b.example/r/room'))).code).toBe(ErrorCode.BadValue);
    expect((await refusal(resolver.resolve('@carol:localhost:8448'))).message).toContain('no MIMI provider is known');
    expect(peer.asked).toEqual([]);
  });

  it('passes on the provider’s HTTP error and an unreachable provider (retryable)', async () => {
    const http = await refusal(
      new AddressResolver(
        CONFIG,
        requester({
          status: 404,
          body: new TextEncoder().encode('{"errcode":"MIMI_NOT_FOUND","error":"this provider is b.example"}'),
        }),
      ).resolve('xmpp:bob@xmpp.b.test'),
    );
    expect(http.code).toBe(ErrorCode.NotFound);
    expect(http.message).toBe(
      'xmpp:bob@xmpp.b.test cannot be looked up: b.example answered HTTP 404: this provider is b.example',
    );
    const down = await refusal(
      new AddressResolver(
        CONFIG,
        requester(
          new GatewayError(ErrorCode.PeerUnavailable, 'b.example unreachable (ECONNREFUSED)', { retryable: true }),
        ),
      ).resolve('xmpp:bob@xmpp.b.test'),
    );
    expect(down.code).toBe(ErrorCode.PeerUnavailable);
    expect(down.retryable).toBe(true);
    expect(down.message).toContain('b.example unreachable');
  });

  it('refuses an answer naming no user, several users, or a user of another provider', async () => {
    const resolve = (uri: string[]) =>
      refusal(
        new AddressResolver(CONFIG, requester({ status: 200, body: answer({ uri }) })).resolve('xmpp:x@xmpp.b.test'),
      );
    expect((await resolve([])).code).toBe(ErrorCode.Conflict);
    expect((await resolve(['mimi://b.example/u/a', 'mimi://b.example/u/b'])).code).toBe(ErrorCode.Conflict);
    expect((await resolve(['mimi://evil.example/u/x'])).code).toBe(ErrorCode.Forbidden);
  });
});
