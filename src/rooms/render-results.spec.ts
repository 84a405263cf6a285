import type { RoomUri } from '../common/ids';
import type { RoomEventRecord } from '../persistence/repositories/room-event.repository';
import { RenderResults } from './render-results';

const event = (seq: number, messageId: string | null): RoomEventRecord =>
  ({ roomUri: 'mimi://a.example/r/1' as RoomUri, seq, messageId }) as RoomEventRecord;

describe(RenderResults.name, () => {
  it('keeps outcomes in render order and knows the platform IDs of messages rendered in the batch', () => {
    const results = new RenderResults();
    results.add({ event: event(1, 'm1'), status: 'done', platformEventId: '$1' });
    results.add({ event: event(2, 'm2'), status: 'failed' });
    results.add({ event: event(3, null), status: 'done', platformEventId: '$3' });

    expect(results.all().map((r) => r.event.seq)).toEqual([1, 2, 3]);
    expect(results.platformEventIdOf('m1')).toBe('$1');
    expect(results.platformEventIdOf('m2')).toBeUndefined();
    expect(results.size).toBe(3);
  });

  it('forgets everything once recorded (cleared)', () => {
    const results = new RenderResults();
    results.add({ event: event(1, 'm1'), status: 'done', platformEventId: '$1' });
    results.clear();
    expect(results.size).toBe(0);
    expect(results.platformEventIdOf('m1')).toBeUndefined();
  });
});
