import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

/**
 * The lint config keeps the layers of docs/ARCHITECTURE.md: a deliberate violation must fail.
 * Before issue 11 the zones never fired (only the node resolver was installed, so no TypeScript
 * import resolved and every zone passed); these cases fail if that happens again.
 */
const ROOT = resolve(__dirname, '../..');
const ZONES = 'import/no-restricted-paths';

interface Message {
  readonly file: string;
  readonly ruleId: string | null;
  readonly message: string;
}
interface ProbeOutput {
  readonly wired: boolean;
  readonly texts: Message[][];
  readonly files: Message[];
}

function probe(input: { texts?: { filePath: string; code: string }[]; files?: string[] }): ProbeOutput {
  const run = spawnSync(process.execPath, [resolve(__dirname, 'lint-probe.mjs')], {
    cwd: ROOT,
    input: JSON.stringify(input),
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`lint-probe failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as ProbeOutput;
}

/** What each probe file imports, and whether the layer table allows it. */
const CASES: readonly { name: string; filePath: string; code: string; allowed: boolean }[] = [
  {
    name: 'src/mimi importing src/rooms',
    filePath: 'src/mimi/transport/lint-probe.ts',
    code: "import { HubService } from '../../rooms';\nexport const probe = HubService;\n",
    allowed: false,
  },
  {
    name: 'src/rooms importing a bridge',
    filePath: 'src/rooms/lint-probe.ts',
    code: "import { MatrixBridge } from '../../bridges/matrix/matrix.bridge';\nexport const probe = MatrixBridge;\n",
    allowed: false,
  },
  {
    name: 'src/persistence importing src/mls',
    filePath: 'src/persistence/lint-probe.ts',
    code: "import { InMemoryMlsStorage } from '../mls/mls-storage';\nexport const probe = InMemoryMlsStorage;\n",
    allowed: false,
  },
  {
    name: 'the Matrix bridge importing the XMPP bridge',
    filePath: 'bridges/matrix/lint-probe.ts',
    code: "import { XmppBridge } from '../xmpp/xmpp.bridge';\nexport const probe = XmppBridge;\n",
    allowed: false,
  },
  {
    name: 'a bridge importing the core config',
    filePath: 'bridges/xmpp/lint-probe.ts',
    code: "import { GatewayConfig } from '../../src/config/gateway-config';\nexport const probe = GatewayConfig;\n",
    allowed: false,
  },
  {
    name: 'src/mimi importing the codec and the DeliveryTarget port',
    filePath: 'src/mimi/transport/lint-probe.ts',
    code:
      "import { TlsWriter } from '../../codec/tls-codec';\n" +
      "import { DELIVERY_TARGET } from '../../ports/delivery-target.port';\n" +
      'export const probe = [TlsWriter, DELIVERY_TARGET];\n',
    allowed: true,
  },
  {
    name: "src/mimi importing the MLS core's struct codecs",
    filePath: 'src/mimi/wire/lint-probe.ts',
    code: "import { mlsMessageCodec } from '../../mls/core/structs';\nexport const probe = mlsMessageCodec;\n",
    allowed: true,
  },
  {
    name: 'src/mimi importing the rest of src/mls',
    filePath: 'src/mimi/wire/lint-probe.ts',
    code: "import { inspectMlsMessage } from '../../mls';\nexport const probe = inspectMlsMessage;\n",
    allowed: false,
  },
  {
    name: 'the composition root importing the bridge modules',
    filePath: 'src/app.module.ts',
    code: "import { matrixBridgeModule } from '../bridges/matrix/matrix.module';\nexport const probe = matrixBridgeModule;\n",
    allowed: true,
  },
];

describe('lint boundaries (eslint.config.mjs)', () => {
  let out: ProbeOutput;

  beforeAll(() => {
    out = probe({
      texts: CASES.map(({ filePath, code }) => ({ filePath, code })),
      files: ['test/lint/fixtures/cycle-a.ts'],
    });
  }, 60_000);

  it('lints with the import rules that npm run lint uses', () => {
    expect(out.wired).toBe(true);
  });

  it.each(CASES.map((c, i) => [c.name, c, i] as const))('%s', (_name, c, i) => {
    const zoneErrors = out.texts[i]!.filter((m) => m.ruleId === ZONES);
    if (c.allowed) {
      expect(out.texts[i]).toEqual([]);
    } else {
      expect(zoneErrors).toHaveLength(1);
      expect(zoneErrors[0]!.message).toMatch(/may import only/);
    }
  });

  it('reports an import cycle', () => {
    expect(out.files).toEqual([
      expect.objectContaining({ file: 'test/lint/fixtures/cycle-a.ts', ruleId: 'import/no-cycle' }),
    ]);
  });
});
