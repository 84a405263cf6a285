/**
 * protocol-06 §5.9 `/reportAbuse/{roomId}` at the hub (issue 10 item 5): a peer's report about a
 * room we hub goes to the legacy room's moderators (`AbuseReporting`: Matrix posts a notice
 * mentioning them and reports each named event through the homeserver's report API). The reported
 * messages are found by their MIMI message ID (content-08 §4.1, computed from the message content
 * with the alleged abuser as sender) in the room's log. Franks are not checked: our rooms have no
 * franking agent (the hub issues no franks), so every report is taken on its word and said so.
 *
 * Refusals: the room is not hubbed here → NotFound (404); the reporting user is not of the
 * calling provider or not a participant → Forbidden (403); the alleged abuser is not a MIMI user
 * URI → BadValue (400).
 */
import { Injectable, Logger } from '@nestjs/common';
import { ErrorCode, GatewayError, ValidationError, errorMessage } from '../../common/errors';
import { type ProviderDomain, type RoomUri, domainOf, parseMimiUri } from '../../common/ids';
import { receiveMimiContent, toHex } from '../../mimi/content';
import type { AbuseReport } from '../../mimi/wire';
import { RoomEventRepository } from '../../persistence/repositories/room-event.repository';
import { RoomRepository } from '../../persistence/repositories/room.repository';
import { canReportAbuse } from '../../ports';
import { RoomLocks } from '../room-locks';
import { participantOf } from '../room-policy';
import { RoomSupport } from '../room-support';

@Injectable()
export class AbuseReports {
  private readonly logger = new Logger(AbuseReports.name);

  constructor(
    private readonly support: RoomSupport,
    private readonly rooms: RoomRepository,
    private readonly events: RoomEventRepository,
    private readonly locks: RoomLocks,
  ) {}

  /** @throws GatewayError NotFound / Forbidden, ValidationError (see the file comment) */
  async report(peer: ProviderDomain, roomUri: RoomUri, report: AbuseReport): Promise<void> {
    const room = await this.rooms.findByUri(undefined, roomUri);
    if (room?.role !== 'hub') throw new GatewayError(ErrorCode.NotFound, `${roomUri} is not hosted here`);
    if (parseMimiUri(report.allegedAbuserUri)?.kind !== 'u') {
      throw new ValidationError(`allegedAbuserUri is not a MIMI user URI: ${JSON.stringify(report.allegedAbuserUri)}`);
    }
    if (report.reportingUser !== '') {
      if (domainOf(report.reportingUser) !== peer) {
        throw new GatewayError(ErrorCode.Forbidden, `${report.reportingUser} is not a user of ${peer}`);
      }
      const view = await this.locks.run(roomUri, () => this.support.groupView(roomUri));
      if (participantOf(view?.participants ?? [], report.reportingUser) === undefined) {
        throw new GatewayError(ErrorCode.Forbidden, `${report.reportingUser} is not a participant of ${roomUri}`);
      }
    }
    const platformEventIds: string[] = [];
    for (const m of report.messages) {
      let id: string;
      try {
        id = toHex(receiveMimiContent(m.messageContent, { senderUri: report.allegedAbuserUri, roomUri }).messageId);
      } catch (e) {
        this.logger.warn(
          `room=${roomUri}: a reported message is not one of ${report.allegedAbuserUri}: ${errorMessage(e)}`,
        );
        continue;
      }
      const eventId = await this.events.findPlatformEventId(undefined, roomUri, room.platform, id);
      if (eventId !== undefined) platformEventIds.push(eventId);
    }
    const bridge = this.support.bridge(room.platform);
    const notice = {
      ...(report.reportingUser !== '' ? { reporter: report.reportingUser } : {}),
      reportedVia: peer,
      abuser: report.allegedAbuserUri,
      reasonCode: report.reasonCode,
      note: report.note,
      platformEventIds,
    };
    if (!canReportAbuse(bridge)) {
      this.logger.warn(
        `room=${roomUri}: the ${room.platform} bridge cannot deliver abuse reports: ${JSON.stringify(notice)}`,
      );
      return;
    }
    await bridge.reportAbuse(this.support.legacyRoom(room), notice);
    this.logger.log(
      `room=${roomUri}: abuse report from ${peer} about ${report.allegedAbuserUri} (${platformEventIds.length} event(s)) delivered`,
    );
  }
}
