/**
 * The multi-process harness itself, with no MIMI rooms involved: memory gateway processes start,
 * serve their control API, keep their legacy platform across SIGTERM and SIGKILL restarts, and
 * the recording tap forwards mutual-TLS traffic faithfully. Needs `npx nest build` first.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'undici';
import { ParticipantRole } from '../../src/ports';
import { HttpError, RawMimiClient } from '../support/e2e-clients';
import { GatewayCluster, withClusterLogs } from '../support/e2e-gateways';
import { waitFor } from '../support/e2e-wait';

const A = 'a.example';
const B = 'b.example';
const ROOM = '!harness-room';
const ALICE = { userId: '@alice:a', displayName: 'Alice' };
const AMY = { userId: '@amy:a' };
const GREETING = 'hello before the gateway links anything';
const PROBE_ROOM = 'mimi://a.example/r/no-such-room';
const PROBE_BODY = Buffer.from('not a MIMI body');

describe('memory gateway processes (harness)', () => {
  let cluster: GatewayCluster;

  beforeAll(async () => {
    cluster = await GatewayCluster.create({ domains: [A, B], taps: [{ from: B, to: A }] });
    await cluster.startAll();
  });

  afterAll(() => cluster?.dispose());

  it(
    'starts each process on the ports of its config and reports them on the READY line',
    withClusterLogs(
      () => cluster,
      async (c) => {
        for (const domain of [A, B]) {
          const g = c.gateway(domain);
          expect(g.readyInfo).toMatchObject({
            domain,
            mimiUrl: g.mimiUrl,
            adminUrl: `http://127.0.0.1:${g.ports.admin}`,
            controlUrl: `http://127.0.0.1:${g.ports.control}`,
            pid: g.pid,
          });
          expect(await g.control.health()).toMatchObject({ domain, pid: g.pid, mimiUrl: g.mimiUrl });
          const health = await request(`http://127.0.0.1:${g.ports.admin}/health`);
          await health.body.dump();
          expect(health.statusCode).toBe(200);
        }
      },
    ),
  );

  it(
    'drives the platform through the control API',
    withClusterLogs(
      () => cluster,
      async (c) => {
        const a = c.gateway(A).control;
        await a.createRoom(ROOM, { name: 'Harness', members: [{ ...ALICE, role: ParticipantRole.Owner }] });
        const rooms = await a.rooms();
        expect(rooms.map((r) => r.roomId)).toContain(ROOM);
        expect((await a.room(ROOM)).members.map((m) => [m.id, m.role])).toEqual([
          [ALICE.userId, ParticipantRole.Owner],
        ]);
        await a.say(ROOM, ALICE, GREETING);
        await a.membership(ROOM, AMY, 'join');
        const timeline = await a.timeline(ROOM);
        expect(timeline.map((t) => t.event.kind)).toEqual(['message', 'membership']);
        expect(timeline.every((t) => t.ackedAt !== undefined)).toBe(true);
        expect(await c.gateway(B).control.rooms()).toEqual([]);
      },
    ),
  );

  it(
    'stops on SIGTERM and comes back with the same legacy rooms',
    withClusterLogs(
      () => cluster,
      async (c) => {
        const a = c.gateway(A);
        const before = await a.control.timeline(ROOM);
        const exit = await a.stop();
        expect(exit.code === 0 || exit.signal === 'SIGTERM').toBe(true);
        expect(a.running).toBe(false);
        expect(readFileSync(a.logFile, 'utf8')).toContain('SIGTERM: shutting down');
        await expect(a.control.health()).rejects.toThrow();
        await a.start();
        expect(await a.control.timeline(ROOM)).toEqual(before);
        expect((await a.control.room(ROOM)).members.map((m) => m.id)).toEqual([ALICE.userId, AMY.userId]);
      },
    ),
  );

  it(
    'survives SIGKILL: a new process on the same database and journal serves the same rooms',
    withClusterLogs(
      () => cluster,
      async (c) => {
        const a = c.gateway(A);
        const pidBefore = a.pid;
        const before = await a.control.timeline(ROOM);
        expect(await a.kill()).toEqual({ code: null, signal: 'SIGKILL' });
        await a.start();
        expect(a.pid).not.toBe(pidBefore);
        expect(a.starts).toBe(3);
        expect(await a.control.timeline(ROOM)).toEqual(before);
        expect(await a.control.unacknowledged()).toEqual([]);
      },
    ),
  );

  it(
    'reports a process that cannot start, with its log',
    withClusterLogs(
      () => cluster,
      async (c) => {
        const b = c.gateway(B);
        await b.stop();
        const good = readFileSync(b.configFile, 'utf8');
        writeFileSync(b.configFile, `${good}\nnoSuchKey: 1\n`);
        try {
          await expect(b.start()).rejects.toThrow(/exited before READY[\s\S]*noSuchKey/);
          expect(b.running).toBe(false);
        } finally {
          writeFileSync(b.configFile, good);
        }
        await b.start();
        expect((await b.control.health()).domain).toBe(B);
      },
    ),
  );

  it(
    "forwards B's mutual-TLS requests through the tap to A unchanged and records them",
    withClusterLogs(
      () => cluster,
      async (c) => {
        const tap = c.tap(B, A);
        // A raw client pointed at the tap, as B's gateway is, and one straight at A.
        const tapped = new RawMimiClient(c.gateway(B).identity, A, `https://127.0.0.1:${tap.port}`, c.caPem);
        const direct = c.rawClient(B, A);
        try {
          const seenBefore = tap.exchanges.length;
          const throughTap = await tapped.post('notify', PROBE_ROOM, PROBE_BODY);
          const straight = await direct.post('notify', PROBE_ROOM, PROBE_BODY);
          expect(throughTap.status).toBe(straight.status);
          expect(throughTap.body.toString()).toBe(straight.body.toString());
          const recorded = await waitFor(() => tap.exchanges[seenBefore], { what: 'the tapped exchange' });
          expect(recorded.path).toBe(`/notify/${encodeURIComponent(PROBE_ROOM)}`);
          expect(recorded.headers.from).toBe(`mimi@${B}`);
          expect(recorded.body).toEqual(PROBE_BODY);
          expect(recorded.status).toBe(straight.status);
        } finally {
          await tapped.close();
          await direct.close();
        }
      },
    ),
  );

  it(
    'answers control API errors as JSON with an errcode',
    withClusterLogs(
      () => cluster,
      async (c) => {
        const err = await c
          .gateway(A)
          .control.room('!missing')
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(err).toBeInstanceOf(HttpError);
        expect(err).toMatchObject({ status: 404, errcode: 'MIMI_NOT_FOUND' });
      },
    ),
  );
});
