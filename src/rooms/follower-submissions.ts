/**
 * The follower's submission queue (protocol-06 §5.4): a local user's post, already encrypted by
 * that user's puppet and stored as a pending `out` submission, is sent to the room's hub with
 * `/submitMessage`, one at a time per room and in order. Unreachable hubs and 5xx/408/429 answers
 * are retried after `submitRetryMs`; `epochTooOld` waits for the hub's commits or encrypts the
 * content again (at most MAX_REENCRYPTIONS times); a refusal is shown to the user
 * (`RoomSupport.tellUser`). The submission only counts once the hub's `/notify` brings it back
 * (FollowerService.confirmOwn).
 */
import { Inject, Injectable, Logger } from '@nestjs/common';
import { errorMessage } from '../common/errors';
import { type RoomUri, type UserUri } from '../common/ids';
import {
  asMlsMessage,
  decodeAll,
  encodeValue,
  submitMessageRequestCodec,
  submitMessageResponseCodec,
} from '../mimi/wire';
import { type GatewayGroup } from '../mls';
import {
  type SubmissionRecord,
  RoomSubmissionRepository,
} from '../persistence/repositories/room-submission.repository';
import { type RoomRecord, RoomRepository } from '../persistence/repositories/room.repository';
import { RoomTransactions } from '../persistence/room-transactions';
import { MlsGroups } from './mls-groups';
import { RoomLocks } from './room-locks';
import { RoomSupport, sha256Hex } from './room-support';
import {
  DEFAULT_SUBMIT_RETRY_MS,
  MIMI_REQUESTER,
  type MimiRequester,
  ROOMS_OPTIONS,
  type RoomsOptions,
} from './rooms.tokens';

/** How often a submission is re-encrypted after `epochTooOld` before the user is told it failed. */
const MAX_REENCRYPTIONS = 3;
/** `lastError` of a submission replaced after the hub answered it `epochTooOld`. */
const REENCRYPTED = 'epochTooOld: encrypted again';
/** `lastError` of a submission replaced to stay in order behind one encrypted again (`reencrypt`). */
const REENCRYPTED_BEHIND = 'encrypted again behind an earlier message (epochTooOld)';

@Injectable()
export class FollowerSubmissions {
  private readonly logger = new Logger(FollowerSubmissions.name);
  private readonly submitting = new Map<string, Promise<void>>();
  private readonly submitAgain = new Set<string>();
  private readonly submitTimers = new Map<string, NodeJS.Timeout>();
  private readonly submitRetryMs: number;
  private stopped = false;

  constructor(
    private readonly support: RoomSupport,
    private readonly rooms: RoomRepository,
    private readonly submissions: RoomSubmissionRepository,
    private readonly groups: MlsGroups,
    private readonly transactions: RoomTransactions,
    private readonly locks: RoomLocks,
    @Inject(MIMI_REQUESTER) private readonly requester: MimiRequester,
    @Inject(ROOMS_OPTIONS) options: RoomsOptions,
  ) {
    this.submitRetryMs = options.submitRetryMs ?? DEFAULT_SUBMIT_RETRY_MS;
  }

  /** Submit every pending local message (after a restart). */
  async resumeSubmissions(): Promise<void> {
    const rooms = new Set((await this.submissions.listWithStatus('out', 'pending')).map((s) => s.roomUri));
    for (const roomUri of rooms) this.kickSubmissions(roomUri);
  }

  /** Stop submitting (before the database closes); submissions in flight finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.submitTimers.forEach((t) => clearTimeout(t));
    this.submitTimers.clear();
    await Promise.allSettled([...this.submitting.values()]);
  }

  /** Start submitting the room's pending messages, in order, one at a time. */
  kickSubmissions(roomUri: RoomUri): void {
    if (this.stopped) return;
    if (this.submitting.has(roomUri)) {
      this.submitAgain.add(roomUri);
      return;
    }
    const drain = this.drainSubmissions(roomUri)
      .catch((e: unknown) => {
        this.logger.error(`room=${roomUri}: submitting stopped: ${errorMessage(e)}`);
        this.retrySubmissionsLater(roomUri);
      })
      .finally(() => {
        this.submitting.delete(roomUri);
        if (this.submitAgain.delete(roomUri)) this.kickSubmissions(roomUri);
      });
    this.submitting.set(roomUri, drain);
  }

  private retrySubmissionsLater(roomUri: RoomUri): void {
    if (this.stopped || this.submitTimers.has(roomUri)) return;
    this.submitTimers.set(
      roomUri,
      setTimeout(() => {
        this.submitTimers.delete(roomUri);
        this.kickSubmissions(roomUri);
      }, this.submitRetryMs),
    );
  }

  private async drainSubmissions(roomUri: RoomUri): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const room = await this.rooms.findByUri(undefined, roomUri);
      if (room?.role !== 'follower') return;
      const next = (await this.submissions.listWithStatus('out', 'pending')).find((s) => s.roomUri === roomUri);
      if (next === undefined) return;
      if (!(await this.submitOne(room, next))) {
        this.retrySubmissionsLater(roomUri);
        return;
      }
    }
  }

  /** @returns false when the submission has to wait: the hub could not be reached, or our clients are behind its epoch */
  private async submitOne(room: RoomRecord, submission: SubmissionRecord): Promise<boolean> {
    const body = encodeValue(
      { protocol: 'mls10', appMessage: asMlsMessage(submission.appMessage), sendingUri: submission.senderUri },
      submitMessageRequestCodec,
    );
    let answer;
    try {
      answer = await this.requester.request(room.hubDomain, 'submitMessage', room.roomUri, body);
    } catch (e) {
      this.logger.warn(`room=${room.roomUri} message=${submission.messageId}: hub unreachable: ${errorMessage(e)}`);
      return false;
    }
    if (answer.status >= 500 || answer.status === 429 || answer.status === 408) {
      this.logger.warn(
        `room=${room.roomUri} message=${submission.messageId}: hub answered HTTP ${answer.status}; will retry`,
      );
      return false;
    }
    if (answer.status < 200 || answer.status >= 300) {
      await this.reject(room, submission, `the hub answered HTTP ${answer.status}`);
      return true;
    }
    const response = decodeAll(answer.body, submitMessageResponseCodec);
    switch (response.statusCode) {
      case 'accepted':
        await this.transactions.run((tx) =>
          this.submissions.update(
            tx,
            room.roomUri,
            submission.bodySha256,
            { status: 'accepted', acceptedAt: Number(response.acceptedTimestamp) },
            'pending',
          ),
        );
        return true;
      case 'notAllowed':
        await this.reject(room, submission, 'the MIMI hub did not allow it (notAllowed)');
        return true;
      case 'epochTooOld': {
        // protocol-06 §5.4: the answer names the hub's epoch. While our clients have not yet
        // processed the commits that took the hub there (they come with /notify), encrypting again
        // would only be too old again: wait for them instead of spending a re-encryption.
        const local = await this.localEpoch(room, submission.senderUri);
        if (local !== undefined && local < response.currentEpoch) {
          this.logger.debug(
            `room=${room.roomUri} message=${submission.messageId}: hub at epoch ${response.currentEpoch}; waiting for its commits`,
          );
          return false;
        }
        await this.reencrypt(room, submission);
        return true;
      }
    }
  }

  /** The epoch `user`'s client is at in the room (undefined when it has no active client there). */
  private async localEpoch(room: RoomRecord, user: UserUri): Promise<bigint | undefined> {
    return this.locks.run(room.roomUri, async () => {
      const client = await this.activeClient(room, user);
      return client?.epoch;
    });
  }

  /**
   * `epochTooOld`: encrypt the same content again in the current epoch, as a new submission, and
   * with it every later pending submission of the room, in queue order. Those were encrypted
   * before this one's new ciphertext, so they hold lower generations of the same ratchet (or an
   * older epoch): sent after it, they would reach the hub and every follower out of order, and
   * once more than a receiver's window of skipped keys (64) lay between, the hub would refuse them
   * as "generation already used or dropped" (RELIABILITY T40). Re-encrypted in order, the
   * generations the hub sees go up with the order it receives them in; the replaced ciphertexts
   * were never sent (only the head of the queue is), so nothing leaves twice.
   */
  private async reencrypt(room: RoomRecord, submission: SubmissionRecord): Promise<void> {
    const earlier = await this.submissions.findByMessageId(undefined, room.roomUri, submission.messageId, 'out');
    if (earlier.filter((s) => s.lastError === REENCRYPTED).length >= MAX_REENCRYPTIONS) {
      await this.reject(room, submission, 'the room kept changing epochs (epochTooOld)');
      return;
    }
    await this.locks.run(room.roomUri, async () => {
      const client = await this.activeClient(room, submission.senderUri);
      if (client === undefined) {
        await this.reject(room, submission, 'you are no longer a member of the room');
        return;
      }
      const queue = (await this.submissions.listWithStatus('out', 'pending')).filter((s) => s.roomUri === room.roomUri);
      const head = queue.findIndex((s) => s.bodySha256 === submission.bodySha256);
      if (head < 0) return; // no longer pending: nothing to encrypt again
      const behind = queue.slice(head + 1).filter((s) => client.isLocalMember(s.senderUri));
      await this.transactions.run(async (tx) => {
        for (const s of [submission, ...behind]) {
          const replaced = await this.submissions.update(
            tx,
            room.roomUri,
            s.bodySha256,
            { status: 'rejected', lastError: s === submission ? REENCRYPTED : REENCRYPTED_BEHIND },
            'pending',
          );
          if (!replaced) continue;
          const appMessage = await client.encrypt(s.senderUri, s.content);
          await this.submissions.insert(tx, {
            ...s,
            bodySha256: sha256Hex(appMessage),
            appMessage,
            status: 'pending',
          });
        }
      });
    });
  }

  private async reject(room: RoomRecord, submission: SubmissionRecord, reason: string): Promise<void> {
    await this.transactions.run((tx) =>
      this.submissions.update(tx, room.roomUri, submission.bodySha256, { status: 'rejected', lastError: reason }),
    );
    this.logger.warn(`room=${room.roomUri} message=${submission.messageId}: rejected: ${reason}`);
    if (submission.platformEventId !== null) {
      await this.support.tellUser(
        room,
        submission.platformEventId,
        `Your message was not delivered to the MIMI room: ${reason}.`,
      );
    }
  }

  /** The room's group when `user` is one of our members in it. */
  private async activeClient(room: RoomRecord, user: UserUri): Promise<GatewayGroup | undefined> {
    const group = await this.groups.group(room.roomUri);
    return group?.isLocalMember(user) ? group : undefined;
  }
}
