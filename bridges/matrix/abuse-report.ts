/**
 * protocol-06 §5.9 abuse reports for a linked Matrix room (issue 10 item 5): the bot posts an
 * m.notice naming the reporter, the alleged abuser and the note, mentioning the room's moderators
 * (creators and users whose power level reaches `kick`, default 50; not ghosts or the bot), and
 * reports each named event through the client-server report API
 * (`POST /rooms/{roomId}/report/{eventId}`), which takes it to the homeserver's administrators.
 */
import type { AbuseReportNotice } from '../../src/ports';
import { txnIdFor } from './matrix-errors';
import type { PowerLevelsContent } from './matrix-event.mapper';

const DEFAULT_KICK_LEVEL = 50;

export interface ReportingClient {
  doRequest(method: string, path: string, qs: null, body: unknown): Promise<unknown>;
}

/** The moderators to mention: creators and users at the kick level or above, except `skip` (ghosts, the bot). */
export function moderatorsOf(
  pl: PowerLevelsContent | undefined,
  creators: ReadonlySet<string>,
  skip: (mxid: string) => boolean,
): string[] {
  const users = (pl?.users ?? {}) as Record<string, unknown>;
  const kick = typeof pl?.kick === 'number' ? pl.kick : DEFAULT_KICK_LEVEL;
  const mods = Object.entries(users)
    .filter(([, level]) => typeof level === 'number' && level >= kick)
    .map(([mxid]) => mxid);
  return [...new Set([...creators, ...mods])].filter((m) => !skip(m)).sort();
}

/** The notice text of a report. */
export function abuseNoticeText(report: AbuseReportNotice, abuser: string): string {
  const who = report.reporter ?? `a user of ${report.reportedVia}`;
  const events = report.platformEventIds.length;
  const note = report.note === '' ? '' : `: “${report.note}”`;
  return (
    `⚠️ Abuse report (MIMI, via ${report.reportedVia}) from ${who} about ${abuser}${note}` +
    (events > 0 ? ` (${events} message(s) reported to the homeserver)` : '')
  );
}

export async function deliverAbuseReport(
  client: ReportingClient,
  roomId: string,
  report: AbuseReportNotice,
  moderators: readonly string[],
  abuser: string,
): Promise<void> {
  const body = abuseNoticeText(report, abuser);
  const room = encodeURIComponent(roomId);
  const txnId = txnIdFor('abuse', `${roomId}\n${body}\n${report.platformEventIds.join(',')}`);
  await client.doRequest(
    'PUT',
    `/_matrix/client/v3/rooms/${room}/send/m.room.message/${encodeURIComponent(txnId)}`,
    null,
    {
      msgtype: 'm.notice',
      body: moderators.length > 0 ? `${moderators.join(' ')}: ${body}` : body,
      'm.mentions': { user_ids: [...moderators] },
    },
  );
  for (const eventId of report.platformEventIds) {
    await client.doRequest('POST', `/_matrix/client/v3/rooms/${room}/report/${encodeURIComponent(eventId)}`, null, {
      reason: `MIMI abuse report from ${report.reporter ?? report.reportedVia}${report.note ? `: ${report.note}` : ''}`,
    });
  }
}
