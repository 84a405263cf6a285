import { MatrixBridge, type MatrixBridgeOptions } from '../../../bridges/matrix/matrix.bridge';
import type { InboundSink } from '../../../src/ports';
import { RecordingSink } from '../../servers/synapse/recording-sink';
import { FakeHomeserver } from './fake-homeserver';

/** A MatrixBridge started against a FakeHomeserver on loopback, reporting to a RecordingSink. */
export interface MatrixHarness {
  readonly hs: FakeHomeserver;
  readonly bridge: MatrixBridge;
  readonly sink: RecordingSink;
  /** A native user of the fake homeserver. */
  readonly alice: string;
  stop(): Promise<void>;
}

export const MATRIX_SERVER_NAME = 'hs.test';
export const MATRIX_PREFIX = '_mimi_';
export const MATRIX_BOT = `@mimibot:${MATRIX_SERVER_NAME}`;

/** `sink`: where the bridge reports (default: the harness's RecordingSink). */
export async function startMatrixHarness(
  overrides: Partial<MatrixBridgeOptions> = {},
  sinkFn?: InboundSink,
): Promise<MatrixHarness> {
  const hs = new FakeHomeserver({
    serverName: MATRIX_SERVER_NAME,
    asToken: 'as-token-test',
    hsToken: 'hs-token-test',
    botUserId: MATRIX_BOT,
  });
  const url = await hs.listen();
  const bridge = new MatrixBridge({
    matrix: {
      homeserverUrl: url,
      domain: MATRIX_SERVER_NAME,
      appserviceHost: '127.0.0.1',
      appservicePort: 0,
      prefix: MATRIX_PREFIX,
      botLocalpart: 'mimibot',
      linkPowerLevel: 100,
    },
    registration: {
      id: 'mimi-test',
      url: null,
      as_token: 'as-token-test',
      hs_token: 'hs-token-test',
      sender_localpart: 'mimibot',
      namespaces: { users: [{ regex: `@${MATRIX_PREFIX}.*:${MATRIX_SERVER_NAME}`, exclusive: true }] },
    },
    listenHost: '127.0.0.1',
    listenPort: 0,
    sdkLogLevel: 'error',
    ...overrides,
  });
  const sink = new RecordingSink();
  await bridge.start(sinkFn ?? sink.fn);
  hs.appserviceUrl = `http://127.0.0.1:${bridge.port}`;
  return {
    hs,
    bridge,
    sink,
    alice: `@alice:${MATRIX_SERVER_NAME}`,
    async stop() {
      await hs.settled();
      await bridge.stop();
      await hs.close();
    },
  };
}
