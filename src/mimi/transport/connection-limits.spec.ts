import { once } from 'node:events';
import { type Socket, connect, createServer } from 'node:net';
import { ConnectionLimitsConfig } from '../../config/limits-config';
import { connectionTimeoutOptions, limitConnections } from './connection-limits';

describe('connectionTimeoutOptions', () => {
  it('maps the config to Node server options, requestTimeout never below headersTimeout', () => {
    const limits = Object.assign(new ConnectionLimitsConfig(), { headersTimeoutMs: 8000, requestTimeoutMs: 2000 });
    expect(connectionTimeoutOptions(limits)).toEqual({
      handshakeTimeout: 10_000,
      headersTimeout: 8000,
      requestTimeout: 8000,
      keepAliveTimeout: 30_000,
      connectionsCheckingInterval: 500,
    });
  });
});

describe('limitConnections', () => {
  it('closes connections past the per-address cap at once and counts them', async () => {
    const server = createServer((s) => s.resume());
    const refused: string[] = [];
    const counts = limitConnections(server, { perAddress: 2 }, (reason) => refused.push(reason));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    const open = async (): Promise<Socket> => {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      await once(s, 'connect');
      return s;
    };
    const [a, b] = [await open(), await open()];
    const c = await open();
    await once(c, 'close');
    expect(refused).toEqual(['per_address']);
    expect(counts().open).toBe(2);
    a.destroy();
    while (counts().open > 1) await new Promise((r) => setTimeout(r, 10));
    const d = await open();
    await new Promise((r) => setTimeout(r, 50));
    expect(d.destroyed).toBe(false);
    expect(refused).toHaveLength(1);
    for (const s of [b, d]) s.destroy();
    server.close();
  });
});
