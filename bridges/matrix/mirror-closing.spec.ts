import { CLOSED_EVENTS_DEFAULT, type ClosingClient, closeMatrixMirror } from './mirror-closing';

class FakeClient implements ClosingClient {
  readonly calls: unknown[][] = [];
  constructor(private powerLevels: Record<string, unknown>) {}
  async doRequest(...args: unknown[]): Promise<unknown> {
    this.calls.push(['doRequest', ...args]);
    return { event_id: '$n' };
  }
  async getRoomStateEvent(): Promise<unknown> {
    return this.powerLevels;
  }
  async sendStateEvent(roomId: string, type: string, key: string, content: unknown): Promise<unknown> {
    this.calls.push(['sendStateEvent', roomId, type, key, content]);
    this.powerLevels = content as Record<string, unknown>;
    return '$pl';
  }
}

describe('closeMatrixMirror', () => {
  it('says the notice and raises events_default, keeping the other power levels', async () => {
    const client = new FakeClient({ users: { '@mimibot:hs': 100 }, events_default: 0, ban: 50 });
    await closeMatrixMirror(client, '!m:hs', 'This room was unlinked at its hub a.example (x).');
    expect(client.calls[0]).toEqual([
      'doRequest',
      'PUT',
      expect.stringMatching(/^\/_matrix\/client\/v3\/rooms\/!m%3Ahs\/send\/m\.room\.message\/mimi\.closed\./),
      null,
      { msgtype: 'm.notice', body: 'This room was unlinked at its hub a.example (x).', 'm.mentions': {} },
    ]);
    expect(client.calls[1]).toEqual([
      'sendStateEvent',
      '!m:hs',
      'm.room.power_levels',
      '',
      { users: { '@mimibot:hs': 100 }, events_default: CLOSED_EVENTS_DEFAULT, ban: 50 },
    ]);
  });

  it('is idempotent: the same notice transaction, no second power-level change', async () => {
    const client = new FakeClient({ events_default: 0 });
    await closeMatrixMirror(client, '!m:hs', 'closed');
    await closeMatrixMirror(client, '!m:hs', 'closed');
    const notices = client.calls.filter((c) => c[0] === 'doRequest');
    expect(notices).toHaveLength(2);
    expect(notices[0]![2]).toBe(notices[1]![2]);
    expect(client.calls.filter((c) => c[0] === 'sendStateEvent')).toHaveLength(1);
  });
});
