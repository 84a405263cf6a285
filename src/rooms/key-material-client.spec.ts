import { ErrorCode, type GatewayError } from '../common/errors';
import type { ProviderDomain, UserUri } from '../common/ids';
import { HubExternalSender } from '../mls';
import { makeExtension, requiredCapabilitiesExtension } from '../mls/core/structs/extensions';
import { KeyMaterialClient, roomRequiredCapabilities } from './key-material-client';
import type { MimiRequester } from './rooms.tokens';
import { hubKeyMaterialRequest } from './wire-support';

const CAROL = 'mimi://c.example/u/memory:carol' as UserUri;
const request = hubKeyMaterialRequest(HubExternalSender.generate('a.example' as ProviderDomain), {
  requestingUser: 'mimi://a.example/u/alice',
  targetUser: CAROL,
  roomId: 'mimi://a.example/r/lobby',
});
const answering = (status: number, body: Uint8Array = new Uint8Array()) =>
  new KeyMaterialClient({ request: async () => ({ status, body }) } as MimiRequester);

describe(KeyMaterialClient.name, () => {
  it('returns a 4xx answer as it is, for the caller to tell', async () => {
    const fetched = await answering(403, new TextEncoder().encode('go away')).fetch(
      'c.example' as ProviderDomain,
      request,
      undefined,
      Date.now(),
    );
    expect(fetched).toEqual({ httpStatus: 403, body: 'go away' });
  });

  it('throws a retryable PeerUnavailable on 5xx and 429, and Malformed on an unreadable answer', async () => {
    for (const status of [500, 503, 429]) {
      const e = await answering(status)
        .fetch('c.example' as ProviderDomain, request, undefined, Date.now())
        .catch((x: unknown) => x as GatewayError);
      expect(e).toMatchObject({ code: ErrorCode.PeerUnavailable, retryable: true });
    }
    const e = await answering(200, new Uint8Array([9, 9, 9]))
      .fetch('c.example' as ProviderDomain, request, undefined, Date.now())
      .catch((x: unknown) => x as GatewayError);
    expect(e).toMatchObject({ code: ErrorCode.Malformed });
  });
});

describe(roomRequiredCapabilities.name, () => {
  it('reads the required_capabilities of a GroupContext, undefined without one', () => {
    const required = { extensionTypes: [6], proposalTypes: [8], credentialTypes: [1] };
    expect(roomRequiredCapabilities([makeExtension(requiredCapabilitiesExtension, required)])).toEqual(required);
    expect(roomRequiredCapabilities([])).toBeUndefined();
  });
});
