import { backlogAlarm } from './outbox-backlog-metrics';

const LIMITS = { backlogAlarmAgeMs: 900_000, backlogAlarmRows: 10_000 };

describe(backlogAlarm.name, () => {
  it('is off without a backlog, and while it is younger and shorter than the limits', () => {
    expect(backlogAlarm(0, 0, LIMITS)).toBe(false);
    expect(backlogAlarm(1, 899_999, LIMITS)).toBe(false);
    expect(backlogAlarm(9_999, 0, LIMITS)).toBe(false);
  });

  it('is on once the oldest pending row reaches the age limit, or the backlog the row limit', () => {
    expect(backlogAlarm(1, 900_000, LIMITS)).toBe(true);
    expect(backlogAlarm(10_000, 0, LIMITS)).toBe(true);
  });
});
