import { Logger } from '@nestjs/common';
import { ErrorCode } from '../../common/errors';
import {
  DOMAIN_A,
  DOMAIN_B,
  LOOPBACK_HOST,
  PemDir,
  ScriptedPeer,
  type TestPki,
  createTestPki,
  providerConfig,
} from '../../../test/kits/mimi/transport-fixtures';
import { CanaryServer } from '../../../test/support/canary-server';
import { MimiAssetClient } from './mimi-asset.client';
import { PeerRegistry } from './peer-registry';
import { TransportTls } from './transport-tls';

const LIMITS = { maxBytes: 65_536, timeoutMs: 5_000 };

describe(MimiAssetClient.name, () => {
  let pki: TestPki;
  let dir: PemDir;
  let peer: ScriptedPeer;
  let canary: CanaryServer;
  let registry: PeerRegistry;
  let client: MimiAssetClient;

  beforeAll(async () => {
    Logger.overrideLogger(false);
    pki = await createTestPki();
    dir = new PemDir();
    peer = await ScriptedPeer.start(pki.b, pki.ca);
    canary = await CanaryServer.start();
    const config = providerConfig(dir, DOMAIN_A, pki.a, pki.ca, {
      peers: [{ domain: DOMAIN_B, baseUrl: `https://${LOOPBACK_HOST}:${peer.port}` }],
    });
    registry = new PeerRegistry(config, TransportTls.fromConfig(config));
    client = new MimiAssetClient(config, registry);
  });

  afterAll(async () => {
    await registry.onModuleDestroy();
    await peer.close();
    await canary.close();
    dir.cleanup();
  });

  it('serves only a configured peer’s own origin: not the canary, another port or a private host (T27)', () => {
    expect(client.peerServing(new URL(`https://${LOOPBACK_HOST}:${peer.port}/f/1.png`))).toBe(DOMAIN_B);
    for (const url of [
      canary.url('/x.png', 'https'),
      `https://${LOOPBACK_HOST}/x.png`,
      `http://${LOOPBACK_HOST}:${peer.port}/x.png`,
      'https://169.254.169.254/x.png',
      'https://10.0.0.1/x.png',
    ]) {
      expect({ url, peer: client.peerServing(new URL(url)) }).toEqual({ url, peer: undefined });
    }
  });

  it.each([301, 302, 303, 307, 308])(
    'does not follow a %i redirect of the peer’s asset server to another host (T27)',
    async (status) => {
      peer.script = (res) => res.writeHead(status, { location: canary.url('/internal/secret.png') }).end();
      const outcome = await client
        .fetchFromPeer(DOMAIN_B, new URL(`https://${LOOPBACK_HOST}:${peer.port}/f/1.png`), LIMITS)
        .catch((e: unknown) => e);
      expect(outcome).toMatchObject({ code: ErrorCode.PeerUnavailable, message: `${DOMAIN_B} answered ${status}` });
      expect(peer.requests).toHaveLength(1);
      peer.requests.length = 0;
      expect(canary.hits).toBe(0);
    },
  );
});
