import { CRASH_POINTS } from '../../src/common/crash-points';
import { FAULT_KINDS, chooseCrashPoints, chooseFaults } from './soak-faults';

describe('soak fault selection', () => {
  it('draws every fault kind by default', () => {
    expect([...chooseFaults(undefined, undefined)]).toEqual([...FAULT_KINDS]);
  });

  it('keeps only the kinds --faults names', () => {
    expect([...chooseFaults('kill, crash-point,proxy', undefined)]).toEqual(['kill', 'crash-point', 'proxy']);
  });

  it('drops the kinds --skip-faults names', () => {
    const set = chooseFaults(undefined, 'pg-restart');
    expect(set.has('pg-restart')).toBe(false);
    expect(set.size).toBe(FAULT_KINDS.length - 1);
    expect([...chooseFaults('kill,pg-restart', 'pg-restart')]).toEqual(['kill']);
  });

  it('rejects unknown names and an empty set', () => {
    expect(() => chooseFaults('kill,pg-restrat', undefined)).toThrow('--faults: unknown fault "pg-restrat"');
    expect(() => chooseFaults(undefined, 'nope')).toThrow('--skip-faults: unknown fault "nope"');
    expect(() => chooseFaults('kill', 'kill')).toThrow('leave no fault');
  });

  it('draws every crash point by default, or only those --crash-points names', () => {
    expect(chooseCrashPoints(undefined)).toEqual(CRASH_POINTS);
    expect(chooseCrashPoints('after-send-before-mark-delivered, after-store-before-ack')).toEqual([
      'after-store-before-ack',
      'after-send-before-mark-delivered',
    ]);
    expect(() => chooseCrashPoints('after-store')).toThrow('--crash-points: unknown crash point "after-store"');
    expect(() => chooseCrashPoints(',')).toThrow('names no crash point');
  });
});
