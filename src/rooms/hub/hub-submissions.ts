/**
 * The hub's /submitMessage flow (protocol-06 §5.4; ARCHITECTURE §2 flow 3): admit a follower's
 * application message, post it into the legacy room as its sender's ghost, and once the platform
 * accepted it, log it and fan the original ciphertext out to every follower exactly once.
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ErrorCode, GatewayError, PlatformError, ValidationError, errorMessage } from '../../common/errors';
import { type ProviderDomain, type RoomUri, type UserUri, domainOf } from '../../common/ids';
import { decodeMimiContent, getRoomUri, getSenderUri, receiveMimiContent, toHex } from '../../mimi/content';
import type { SubmitMessageRequest, SubmitMessageResponse } from '../../mimi/wire';
import {
  EpochVerdict,
  MlsGroupError,
  MlsProtocolError,
  checkEpoch,
  groupIdForRoom,
  inspectMlsMessage,
} from '../../mls';
import type { Tx } from '../../persistence';
import { RoomEventRepository } from '../../persistence/repositories/room-event.repository';
import {
  type SubmissionRecord,
  RoomSubmissionRepository,
} from '../../persistence/repositories/room-submission.repository';
import { type RoomRecord, RoomRepository } from '../../persistence/repositories/room.repository';
import { RoomTransactions } from '../../persistence/room-transactions';
import type { MessageAction } from '../../ports';
import { actionForContent, contentKind, senderProfileOf } from '../content-mapping';
import { authoriseMessageChange } from '../delete-policy';
import { HubCommits } from '../hub-commits';
import { MediaAssets } from '../media-assets';
import { MlsGroups } from '../mls-groups';
import { RoomLocks } from '../room-locks';
import { maySendMessage } from '../room-policy';
import { RoomSupport, sha256Hex } from '../room-support';
import { DEFAULT_SUBMIT_POST_TIMEOUT_MS, ROOMS_OPTIONS, type RoomsOptions } from '../rooms.tokens';
import { applicationFanout } from '../wire-support';
import { auditRefusal } from './hub-audit';
import { LegacyRecords } from './legacy-records';

@Injectable()
export class HubSubmissions {
  private readonly logger = new Logger(HubSubmissions.name);
  private readonly submitPostTimeoutMs: number;

  constructor(
    private readonly support: RoomSupport,
    private readonly rooms: RoomRepository,
    private readonly events: RoomEventRepository,
    private readonly submissions: RoomSubmissionRepository,
    private readonly groups: MlsGroups,
    private readonly commits: HubCommits,
    private readonly transactions: RoomTransactions,
    private readonly locks: RoomLocks,
    private readonly media: MediaAssets,
    @Inject(ROOMS_OPTIONS) options: RoomsOptions,
    private readonly records: LegacyRecords,
  ) {
    this.submitPostTimeoutMs = options.submitPostTimeoutMs ?? DEFAULT_SUBMIT_POST_TIMEOUT_MS;
  }

  /**
   * protocol-06 §5.4. Checks, in order: the sender belongs to the calling provider, is an active
   * participant whose role may send, and the message is from the current epoch; then the bot
   * decrypts it and the MLS sender and the content's senderUri/roomUri must all be `sendingUri`
   * and this room. The message is posted into the legacy room as the sender's ghost, and
   * `accepted` is answered only once the platform accepted it; the original ciphertext is fanned
   * out to every follower, the submitter included, exactly once.
   * @throws GatewayError NotFound (not our room), Timeout/PlatformUnavailable (no answer from the
   *   platform in time: the follower may retry the same bytes).
   */
  async submitMessage(
    peer: ProviderDomain,
    roomUri: RoomUri,
    request: SubmitMessageRequest,
  ): Promise<SubmitMessageResponse> {
    return this.locks.run(roomUri, async () => {
      const room = await this.commits.hubRoom(roomUri);
      const sendingUri = request.sendingUri as UserUri;
      const refuse = (reason: string): SubmitMessageResponse => {
        auditRefusal(this.logger, { endpoint: 'submitMessage', peer, roomUri, claimedSender: sendingUri, reason });
        return { protocol: 'mls10', statusCode: 'notAllowed' };
      };
      if (domainOf(sendingUri) !== peer) return refuse(`${peer} may not send for ${sendingUri}`);
      const view = await this.commits.botView(roomUri);
      const may = maySendMessage(await this.commits.roles(roomUri), view.participants, sendingUri);
      if (!may.allowed) return refuse(may.reason);
      if (!view.members.some((m) => m.user === sendingUri)) return refuse(`${sendingUri} has no client in the group`);
      const check = checkEpoch(inspectMlsMessage(request.appMessage), {
        groupId: groupIdForRoom(roomUri),
        epoch: view.epoch,
      });
      if (check.verdict === EpochVerdict.EpochTooOld) {
        this.logger.debug(`submitMessage room=${roomUri} from=${peer}: epochTooOld: ${check.reason}`);
        return { protocol: 'mls10', statusCode: 'epochTooOld', currentEpoch: check.currentEpoch };
      }
      if (check.verdict !== EpochVerdict.Ok) return refuse(check.reason);

      const bodySha256 = sha256Hex(request.appMessage);
      let submission = await this.submissions.findByHash(undefined, roomUri, bodySha256);
      // Known bytes still `posting`, or new bytes of a message still `posting`: maybe posted before.
      let retry = submission !== undefined;
      // Known bytes were checked against their MLS sender when first admitted; not this sender's.
      if (submission !== undefined && submission.senderUri !== sendingUri) {
        return refuse(`these bytes were submitted by ${submission.senderUri}`);
      }
      if (submission === undefined) {
        try {
          ({ submission, retry } = await this.transactions.run((tx) =>
            this.admitSubmission(tx, room, sendingUri, request, bodySha256),
          ));
        } catch (e) {
          // MlsProtocolError: the bot cannot decrypt or verify it (e.g. a generation outside the
          // window it keeps keys for); these bytes will never do, so refuse rather than answer a
          // 500 that the follower would retry forever, holding back its later messages (T40).
          if (
            e instanceof ValidationError ||
            e instanceof MlsGroupError ||
            e instanceof MlsProtocolError ||
            e instanceof GatewayError
          ) {
            if (e instanceof GatewayError && e.code === ErrorCode.Internal) throw e;
            return refuse(errorMessage(e));
          }
          throw e;
        }
      }
      if (submission.status === 'accepted') {
        return { protocol: 'mls10', statusCode: 'accepted', acceptedTimestamp: BigInt(submission.acceptedAt ?? 0) };
      }
      if (submission.status !== 'posting') {
        return refuse(`the platform refused the message (${submission.lastError ?? submission.status})`);
      }
      const accepted = await this.postInOrder(room, submission, retry);
      if (accepted === undefined) return refuse('the platform refused the message');
      return { protocol: 'mls10', statusCode: 'accepted', acceptedTimestamp: BigInt(accepted.acceptedAt ?? 0) };
    });
  }

  /**
   * Decrypt, verify and record a new submission (status `posting`), in `tx` with the bot's ratchet
   * advance. `retry`: it replaces an earlier ciphertext of the message, which may have been posted.
   */
  private async admitSubmission(
    tx: Tx,
    room: RoomRecord,
    sendingUri: UserUri,
    request: SubmitMessageRequest,
    bodySha256: string,
  ): Promise<{ submission: SubmissionRecord; retry: boolean }> {
    const group = await this.groups.requireGroup(room.roomUri);
    const processed = await group.processMessage(request.appMessage);
    if (processed.kind !== 'application') {
      throw new ValidationError(`expected an application message, got ${processed.kind}`);
    }
    if (processed.sender !== sendingUri) {
      throw new ValidationError(`the MLS sender is ${processed.sender ?? '?'}, not ${sendingUri}`);
    }
    const received = receiveMimiContent(processed.plaintext, { senderUri: sendingUri, roomUri: room.roomUri });
    if (
      getSenderUri(received.content.extensions) === undefined ||
      getRoomUri(received.content.extensions) === undefined
    ) {
      throw new ValidationError('content must name its senderUri and roomUri (protocol-06 §5.4.1)');
    }
    const change = await authoriseMessageChange(received.content, sendingUri, {
      roles: () => this.commits.roles(room.roomUri),
      participants: async () => (await this.commits.botView(room.roomUri)).participants,
      senderOf: async (id) => (await this.events.findByMessageId(tx, room.roomUri, id))?.senderUri,
    });
    if (!change.allowed) throw new ValidationError(change.reason);
    const messageId = toHex(received.messageId);
    const earlier = await this.submissions.findByMessageId(tx, room.roomUri, messageId, 'in');
    const done = earlier.find((s) => s.status === 'accepted');
    if (done !== undefined) return { submission: done, retry: false }; // the same message re-encrypted after an epoch change
    // An earlier ciphertext of it still `posting` (the follower encrypted it again after
    // epochTooOld) is replaced by this one, which takes its place in the room's order.
    const replaced = earlier.filter((s) => s.status === 'posting');
    for (const old of replaced) {
      await this.submissions.update(
        tx,
        room.roomUri,
        old.bodySha256,
        { status: 'failed', lastError: 'replaced by the same message encrypted again' },
        'posting',
      );
    }
    const createdAt = replaced.length > 0 ? Math.min(...replaced.map((s) => s.createdAt)) : this.support.now();
    const submission = {
      roomUri: room.roomUri,
      bodySha256,
      direction: 'in' as const,
      messageId,
      senderUri: sendingUri,
      appMessage: request.appMessage,
      content: processed.plaintext,
      status: 'posting' as const,
      platformEventId: null,
      createdAt,
    };
    await this.submissions.insert(tx, submission);
    return { submission: { ...submission, acceptedAt: null, lastError: null }, retry: replaced.length > 0 };
  }

  /**
   * Post `submission` after every earlier submission of the room still `posting`: one the hub
   * posted just before it was killed, or whose post timed out, may already be in the legacy room,
   * so it is posted again (idempotent: same key, the platform's first answer) and logged first, and
   * the hub's sequence keeps the legacy room's order (T40). An earlier one the platform refuses for
   * good is failed and passed over; one it cannot take yet holds this one back (PlatformError; the
   * follower retries). Posts that may have been made before are marked as retries (PostOptions.retry).
   */
  private async postInOrder(
    room: RoomRecord,
    submission: SubmissionRecord,
    retry: boolean,
  ): Promise<SubmissionRecord | undefined> {
    const queue = await this.submissions.listInRoomWithStatus(undefined, room.roomUri, 'in', 'posting');
    for (const earlier of queue) {
      if (earlier.bodySha256 === submission.bodySha256) break;
      this.logger.log(`room=${room.roomUri}: posting submission ${earlier.messageId} first, it came before`);
      await this.postSubmission(room, earlier, true);
    }
    return this.postSubmission(room, submission, retry);
  }

  /** Post a submission as its sender's ghost, within the bounded wait; complete it on success. */
  private async postSubmission(
    room: RoomRecord,
    submission: SubmissionRecord,
    retry: boolean,
  ): Promise<SubmissionRecord | undefined> {
    const content = decodeMimiContent(submission.content);
    const sender = await this.support.profiles.remoteUser(
      room.platform,
      submission.senderUri,
      senderProfileOf(content),
    );
    const action: MessageAction | undefined = await actionForContent(content, (id) =>
      this.events.findPlatformEventId(undefined, room.roomUri, room.platform, id),
    );
    if (action === undefined) {
      await this.failSubmission(room, submission, 'refers to a message unknown in the legacy room');
      return undefined;
    }
    try {
      const local = await this.media.localize(room, sender, action);
      const result = await this.support.bridge(room.platform).post(this.support.legacyRoom(room), sender, local, {
        idempotencyKey: `mimi:${submission.messageId}`,
        timeoutMs: this.submitPostTimeoutMs,
        retry,
      });
      return await this.completeSubmission(room, submission, result.platformEventId, result.acceptedAt);
    } catch (e) {
      if (e instanceof GatewayError && !e.retryable) {
        await this.failSubmission(room, submission, errorMessage(e));
        return undefined;
      }
      const timedOut = e instanceof GatewayError && e.code === ErrorCode.Timeout;
      this.logger.warn(`room=${room.roomUri} message=${submission.messageId}: not posted yet: ${errorMessage(e)}`);
      throw new PlatformError(
        timedOut ? ErrorCode.Timeout : ErrorCode.PlatformUnavailable,
        timedOut
          ? `the legacy platform did not accept message ${submission.messageId} within ${this.submitPostTimeoutMs} ms; retry the same request`
          : `the legacy platform is unavailable (${errorMessage(e)}); retry the same request`,
        { cause: e },
      );
    }
  }

  private async failSubmission(room: RoomRecord, submission: SubmissionRecord, reason: string): Promise<void> {
    await this.transactions.run((tx) =>
      this.submissions.update(
        tx,
        room.roomUri,
        submission.bodySha256,
        { status: 'failed', lastError: reason },
        'posting',
      ),
    );
    this.logger.warn(`room=${room.roomUri} message=${submission.messageId}: submission failed: ${reason}`);
  }

  /**
   * The platform accepted a submitted message: log it with the next sequence number, map the
   * platform event to the message, and fan the ORIGINAL ciphertext out to every follower, the
   * submitter included. Exactly once: only the call that moves the row from `posting` wins.
   */
  async completeSubmission(
    room: RoomRecord,
    submission: SubmissionRecord,
    platformEventId: string,
    acceptedAt: number,
  ): Promise<SubmissionRecord> {
    return this.transactions.run(async (tx) => {
      const moved = await this.submissions.update(
        tx,
        room.roomUri,
        submission.bodySha256,
        { status: 'accepted', platformEventId, acceptedAt },
        'posting',
      );
      if (!moved) return (await this.submissions.findByHash(tx, room.roomUri, submission.bodySha256)) ?? submission;
      const content = decodeMimiContent(submission.content);
      await this.events.insert(tx, {
        roomUri: room.roomUri,
        seq: await this.rooms.allocateEventSeq(tx, room.roomUri),
        messageId: submission.messageId,
        senderUri: submission.senderUri,
        kind: contentKind(content),
        content: submission.content,
        acceptedAt,
        renderStatus: 'none',
      });
      await this.records.recordLegacy(tx, room, platformEventId, submission.messageId);
      const destinations = this.support.followerDomains(await this.commits.botView(room.roomUri));
      await this.support.fanout(tx, room.roomUri, [
        { destinations, message: applicationFanout(submission.appMessage, acceptedAt) },
      ]);
      return { ...submission, status: 'accepted', platformEventId, acceptedAt };
    });
  }
}
