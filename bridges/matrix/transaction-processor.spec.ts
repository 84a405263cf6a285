import { Logger } from '@nestjs/common';
import { ErrorCode, PlatformError, ValidationError } from '../../src/common/errors';
import type { MatrixEvent } from './matrix-event.mapper';
import { TransactionProcessor, type TransactionRecorder } from './transaction-processor';

const ROOM = '!room:hs.test';
const event = (id: string): MatrixEvent => ({
  event_id: id,
  room_id: ROOM,
  sender: '@alice:hs.test',
  type: 'm.room.message',
  origin_server_ts: 1,
  content: { msgtype: 'm.text', body: id },
});
const RETRYABLE = new PlatformError(ErrorCode.PlatformUnavailable, 'store down');
const PERMANENT = new ValidationError('cannot be stored');

/** A sink that fails the events named in `failing` with the given error. */
function sink(failing: Map<string, Error>) {
  const seen: string[] = [];
  const handle = async (ev: MatrixEvent): Promise<void> => {
    seen.push(ev.event_id);
    const e = failing.get(ev.event_id);
    if (e) throw e;
  };
  return { seen, handle };
}

describe(TransactionProcessor.name, () => {
  it('acknowledges when every event was handled, in order', async () => {
    const s = sink(new Map());
    expect(await new TransactionProcessor().process('t', [event('$1'), event('$2')], s.handle)).toBe('ack');
    expect(s.seen).toEqual(['$1', '$2']);
  });

  it('skips a malformed event and a permanently refused one, and acknowledges', async () => {
    const s = sink(new Map([['$2', PERMANENT]]));
    expect(
      await new TransactionProcessor().process('t', [{ nonsense: true }, event('$2'), event('$3')], s.handle),
    ).toBe('ack');
    expect(s.seen).toEqual(['$2', '$3']);
  });

  it('skips an event over the 65,536-byte limit, naming its size, and acknowledges its neighbours (T08)', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const big = { ...event('$big'), content: { msgtype: 'm.text', body: 'x'.repeat(70_000) } };
      const atLimit = { ...event('$fits'), content: { msgtype: 'm.text', body: '' } };
      const room = JSON.stringify(atLimit).length;
      atLimit.content.body = 'y'.repeat(65_536 - room);
      expect(Buffer.byteLength(JSON.stringify(atLimit))).toBe(65_536);
      const s = sink(new Map());
      expect(await new TransactionProcessor().process('t', [event('$1'), big, atLimit, event('$2')], s.handle)).toBe(
        'ack',
      );
      expect(s.seen).toEqual(['$1', '$fits', '$2']);
      expect(warn).toHaveBeenCalledWith(
        expect.stringMatching(
          /txn t event #1: malformed, skipped: event \$big of 70\d{3} bytes, over the 65536-byte limit/,
        ),
      );
    } finally {
      warn.mockRestore();
    }
  });

  it('asks for a retry when an event failed retryably, after handing over the rest', async () => {
    const s = sink(new Map([['$1', RETRYABLE]]));
    expect(await new TransactionProcessor().process('t', [event('$1'), event('$2')], s.handle)).toBe('retry');
    expect(s.seen).toEqual(['$1', '$2']);
  });

  it('treats an unknown error as retryable', async () => {
    const s = sink(new Map([['$1', new Error('boom')]]));
    expect(await new TransactionProcessor().process('t', [event('$1')], s.handle)).toBe('retry');
  });

  it('never dead-letters during an outage (no event recorded), however often', async () => {
    const p = new TransactionProcessor(2);
    const s = sink(
      new Map([
        ['$1', RETRYABLE],
        ['$2', RETRYABLE],
      ]),
    );
    for (let i = 0; i < 10; i++) expect(await p.process('t', [event('$1'), event('$2')], s.handle)).toBe('retry');
  });

  it('dead-letters a poison event after maxPoisonAttempts while its neighbours are recorded', async () => {
    const p = new TransactionProcessor(3);
    const s = sink(new Map([['$poison', RETRYABLE]]));
    const txn = [event('$ok'), event('$poison')];
    expect(await p.process('t', txn, s.handle)).toBe('retry');
    expect(await p.process('t', txn, s.handle)).toBe('retry');
    expect(await p.process('t', txn, s.handle)).toBe('ack');
  });

  it('forgets past failures of an event once it is recorded', async () => {
    const p = new TransactionProcessor(2);
    const failing = new Map<string, Error>([['$x', RETRYABLE]]);
    const s = sink(failing);
    expect(await p.process('t', [event('$ok'), event('$x')], s.handle)).toBe('retry');
    failing.delete('$x');
    expect(await p.process('t', [event('$ok'), event('$x')], s.handle)).toBe('ack');
    failing.set('$x', RETRYABLE);
    expect(await p.process('t2', [event('$ok2'), event('$x')], s.handle)).toBe('retry');
  });

  describe('with events handed to the core without waiting (deferred, recorded in a batch)', () => {
    /** A core that settles everything handed over only when `commit` is called, failing `failing`. */
    function batchingCore(failing: Map<string, Error> = new Map()) {
      const handed: string[] = [];
      let commit!: () => void;
      const committed = new Promise<void>((r) => (commit = r));
      const handle = async (ev: MatrixEvent, recorder: TransactionRecorder): Promise<void> => {
        handed.push(ev.event_id);
        recorder.defer(
          committed.then(() => {
            const e = failing.get(ev.event_id);
            if (e) throw e;
          }),
        );
      };
      return { handed, handle, commit };
    }

    it('hands every event over before any is durable, and answers only once all are', async () => {
      const core = batchingCore();
      let answered = false;
      const answer = new TransactionProcessor()
        .process('t', [event('$1'), event('$2'), event('$3')], core.handle)
        .then((o) => ((answered = true), o));
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      expect(core.handed).toEqual(['$1', '$2', '$3']);
      expect(answered).toBe(false);
      core.commit();
      expect(await answer).toBe('ack');
    });

    it('parks a poison event alone after maxPoisonAttempts while its neighbours are recorded', async () => {
      const p = new TransactionProcessor(2);
      const failing = new Map([['$2', RETRYABLE]]);
      const run = async () => {
        const core = batchingCore(failing);
        const answer = p.process('t', [event('$1'), event('$2'), event('$3')], core.handle);
        core.commit();
        return answer;
      };
      expect(await run()).toBe('retry');
      expect(await run()).toBe('ack');
      expect([...p.parked.keys()]).toEqual(['$2']);
    });

    it('waits for what was handed over before when asked to flush', async () => {
      const order: string[] = [];
      const p = new TransactionProcessor();
      const outcome = await p.process('t', [event('$1'), event('$cmd')], async (ev, recorder) => {
        if (ev.event_id === '$cmd') {
          await recorder.flush();
          order.push('command');
          return;
        }
        recorder.defer(new Promise<void>((r) => setTimeout(r, 20)).then(() => void order.push(ev.event_id)));
      });
      expect(outcome).toBe('ack');
      expect(order).toEqual(['$1', 'command']);
    });
  });
});
