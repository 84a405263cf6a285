import { connect } from 'node:net';
import { once } from 'node:events';
import { CanaryServer } from './canary-server';

describe(CanaryServer.name, () => {
  it('counts every connection, an HTTP request or a bare TCP connect', async () => {
    const canary = await CanaryServer.start();
    try {
      expect(canary.hits).toBe(0);
      const res = await fetch(canary.url('/x.png'));
      expect(await res.text()).toBe('canary');
      const socket = connect(canary.port, canary.host);
      await once(socket, 'connect');
      socket.destroy();
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(canary.hits).toBe(2);
      expect(canary.requests).toEqual(['GET /x.png']);
      expect(canary.url('/a', 'https')).toBe(`https://127.0.0.1:${canary.port}/a`);
    } finally {
      await canary.close();
    }
  });
});
