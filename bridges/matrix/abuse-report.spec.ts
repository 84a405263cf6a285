import { abuseNoticeText, deliverAbuseReport, moderatorsOf } from './abuse-report';

const REPORT = {
  reporter: 'mimi://b.example/u/bob',
  reportedVia: 'b.example',
  abuser: 'mimi://a.example/u/matrix:%40eve%3Ahs',
  reasonCode: 0,
  note: 'spam',
  platformEventIds: ['$e1', '$e2'],
};

describe('moderatorsOf', () => {
  it('takes creators and users at the kick level or above, without ghosts and the bot', () => {
    const pl = {
      users: { '@mod:hs': 50, '@admin:hs': 100, '@user:hs': 0, '@_mimi_x:hs': 50, '@bot:hs': 100 },
      kick: 50,
    };
    const skip = (m: string) => m.startsWith('@_mimi_') || m === '@bot:hs';
    expect(moderatorsOf(pl, new Set(['@creator:hs']), skip)).toEqual(['@admin:hs', '@creator:hs', '@mod:hs']);
    expect(moderatorsOf({ users: { '@mod:hs': 50 }, kick: 75 }, new Set(), skip)).toEqual([]);
    expect(moderatorsOf(undefined, new Set(['@creator:hs']), skip)).toEqual(['@creator:hs']);
  });
});

describe('deliverAbuseReport', () => {
  it('mentions the moderators in a notice and reports every event to the homeserver', async () => {
    const calls: unknown[][] = [];
    const client = { doRequest: async (...a: unknown[]) => void calls.push(a) };
    await deliverAbuseReport(client, '!r:hs', REPORT, ['@mod:hs'], '@eve:hs');
    expect(calls[0]).toEqual([
      'PUT',
      expect.stringMatching(/^\/_matrix\/client\/v3\/rooms\/!r%3Ahs\/send\/m\.room\.message\/mimi\.abuse\./),
      null,
      {
        msgtype: 'm.notice',
        body: `@mod:hs: ${abuseNoticeText(REPORT, '@eve:hs')}`,
        'm.mentions': { user_ids: ['@mod:hs'] },
      },
    ]);
    expect(calls.slice(1)).toEqual([
      [
        'POST',
        '/_matrix/client/v3/rooms/!r%3Ahs/report/%24e1',
        null,
        { reason: 'MIMI abuse report from mimi://b.example/u/bob: spam' },
      ],
      [
        'POST',
        '/_matrix/client/v3/rooms/!r%3Ahs/report/%24e2',
        null,
        { reason: 'MIMI abuse report from mimi://b.example/u/bob: spam' },
      ],
    ]);
  });

  it('says who reported, the abuser and the note', () => {
    expect(abuseNoticeText(REPORT, '@eve:hs')).toBe(
      '⚠️ Abuse report (MIMI, via b.example) from mimi://b.example/u/bob about @eve:hs: “spam” (2 message(s) reported to the homeserver)',
    );
    expect(abuseNoticeText({ ...REPORT, reporter: undefined, note: '', platformEventIds: [] }, '@eve:hs')).toBe(
      '⚠️ Abuse report (MIMI, via b.example) from a user of b.example about @eve:hs',
    );
  });
});
