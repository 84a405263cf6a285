import { ErrorCode, PlatformError, ValidationError } from '../../src/common/errors';
import type { MatrixEvent } from './matrix-event.mapper';
import { TransactionProcessor } from './transaction-processor';

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
});
