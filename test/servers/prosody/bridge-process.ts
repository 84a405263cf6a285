/**
 * The XMPP bridge in a process of its own, for crash tests (SIGKILL) and throughput runs: the
 * sink appends each inbound event as one JSON line to `eventsFile` (a stand-in for the core's
 * storage); posts are requested on stdin, one JSON object per line, answered on stdout as
 * `RESULT {...}` lines. Prints `READY` once the bridge has started.
 *
 * Spec (JSON in the MIMI_XMPP_BRIDGE_SPEC environment variable):
 *   { mode, service, componentDomain?, jid?, secret, botNick, links, stateFile, eventsFile }
 * Post request: { "id": "1", "room": "room@muc", "as": { "userUri": "...", "displayName": "..." },
 *                 "text": "...", "key": "idempotency key" }
 */
import { appendFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Logger } from '@nestjs/common';
import { Platform } from '../../../src/common/ids';
import type { InboundEvent, RemoteUser } from '../../../src/ports';
import { FileStateStore } from '../../../bridges/xmpp/state/bridge-state';
import { XmppBridge } from '../../../bridges/xmpp/xmpp.bridge';
import { clientTransport, componentTransport } from '../../../bridges/xmpp/session/xmpp-transport';
import { BRIDGE_SPEC_ENV, type BridgeProcessSpec } from './bridge-spec';

async function main(): Promise<void> {
  Logger.overrideLogger(['error', 'warn']);
  const spec = JSON.parse(process.env[BRIDGE_SPEC_ENV] ?? '{}') as BridgeProcessSpec;
  const backoff = { initialMs: 100, maxMs: 1000 };
  const transport =
    spec.mode === 'component'
      ? componentTransport({ service: spec.service, domain: spec.componentDomain!, secret: spec.secret }, backoff)
      : clientTransport({ service: spec.service, jid: spec.jid!, password: spec.secret, resource: 'bridge' }, backoff);
  const bridge = new XmppBridge({
    mode: spec.mode,
    transport,
    componentDomain: spec.componentDomain,
    botNick: spec.botNick,
    links: spec.links,
    stateStore: new FileStateStore(spec.stateFile),
  });
  await bridge.start(async (event: InboundEvent) => {
    appendFileSync(spec.eventsFile, `${JSON.stringify({ ...event, pid: process.pid })}\n`);
  });
  process.stdout.write('READY\n');
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const req = JSON.parse(line) as { id: string; room: string; as: RemoteUser; text: string; key: string };
    bridge
      .post(
        { platform: Platform.Xmpp, roomId: req.room },
        req.as,
        { type: 'post', body: { kind: 'text', text: req.text } },
        { idempotencyKey: req.key, timeoutMs: 30_000 },
      )
      .then(
        (result) => process.stdout.write(`RESULT ${JSON.stringify({ id: req.id, result })}\n`),
        (e: unknown) => process.stdout.write(`RESULT ${JSON.stringify({ id: req.id, error: String(e) })}\n`),
      );
  });
  const stop = (): void => {
    void bridge.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`bridge process failed: ${String(e)}\n`);
  process.exit(1);
});
