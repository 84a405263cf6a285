import type { Intent } from 'matrix-appservice-bridge';
import { redactAsGhostOrBot } from './redactions';

/** An Intent whose client answers doRequest with `answer` and records the calls. */
function intent(answer: (path: string, body: unknown) => unknown): { intent: Intent; calls: [string, unknown][] } {
  const calls: [string, unknown][] = [];
  const doRequest = async (_method: string, path: string, _qs: unknown, body: unknown) => {
    calls.push([path, body]);
    return answer(path, body);
  };
  return { intent: { matrixClient: { doRequest } } as unknown as Intent, calls };
}

const forbidden = (): never => {
  throw Object.assign(new Error('M_FORBIDDEN'), { statusCode: 403 });
};

/** Redact `$t` in `!r:hs` as the ghost `@_mimi_m:hs`, with these two clients. */
function redact(ghost: Intent, bot: Intent): Promise<string> {
  return redactAsGhostOrBot({
    roomId: '!r:hs',
    target: '$t',
    txnId: 'tx',
    ghost: { id: '@_mimi_m:hs', intent: ghost },
    bot,
  });
}

describe('redactAsGhostOrBot', () => {
  it('redacts as the ghost when the homeserver lets it', async () => {
    const ghost = intent(() => ({ event_id: '$g' }));
    const bot = intent(() => ({ event_id: '$b' }));
    const id = await redact(ghost.intent, bot.intent);
    expect(id).toBe('$g');
    expect(ghost.calls).toEqual([['/_matrix/client/v3/rooms/!r%3Ahs/redact/%24t/tx', {}]]);
    expect(bot.calls).toEqual([]);
  });

  it('has the bot redact, naming the moderator’s ghost, when the ghost lacks the power (403)', async () => {
    const ghost = intent(forbidden);
    const bot = intent(() => ({ event_id: '$b' }));
    const id = await redact(ghost.intent, bot.intent);
    expect(id).toBe('$b');
    expect(bot.calls).toEqual([
      [
        '/_matrix/client/v3/rooms/!r%3Ahs/redact/%24t/tx.bot',
        { reason: 'deleted by @_mimi_m:hs (a moderator of the MIMI room)' },
      ],
    ]);
  });

  it('passes on any other error', async () => {
    const ghost = intent(() => {
      throw Object.assign(new Error('down'), { statusCode: 502 });
    });
    const bot = intent(() => ({ event_id: '$b' }));
    await expect(redact(ghost.intent, bot.intent)).rejects.toThrow('down');
    expect(bot.calls).toEqual([]);
  });
});
