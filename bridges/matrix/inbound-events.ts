/**
 * The events of a homeserver transaction, one by one: the membership cache follows member events,
 * power levels become role changes, `!mimi` commands and the bot's invites are handled, room
 * lifecycle events get a notice, and everything else the mapper (matrix-event.mapper.ts) turns into
 * inbound events is recorded through the core's sink, with the echo key of our own sends.
 * Read receipts of the transaction's ephemeral events are passed on best effort (read-receipts.ts).
 */
import type { Logger } from '@nestjs/common';
import type { Intent, MembershipCache, UserMembership } from 'matrix-appservice-bridge';
import { ErrorCode, PlatformError, errorMessage } from '../../src/common/errors';
import type { BridgeHost, InboundEvent, InboundSink } from '../../src/ports';
import {
  type MapperContext,
  type MatrixEvent,
  type PowerLevelsContent,
  mapMatrixEvent,
  mapPowerLevels,
  mapRedaction,
  roomRef,
} from './matrix-event.mapper';
import type { BoundedMap } from '../kit/bounded-map';
import type { EchoKeyedInboundEvent } from '../kit/echo-keys';
import type { MatrixIds } from './matrix-ids';
import { txnIdFor } from './matrix-errors';
import type { RoomStateReader } from './room-state-reader';
import type { BridgeCommands } from './bridge-commands';
import type { TransactionRecorder } from './transaction-processor';
import { ReplyMentions } from './reply-mentions';
import { lifecycleNotice } from './room-lifecycle';
import type { RoomUpgrades } from './room-upgrade';
import { readEventsOf } from './read-receipts';
import { isFileOfEcho } from './outbound-files';

export interface InboundEventsDeps {
  readonly bot: () => Intent;
  readonly ctx: () => MapperContext;
  readonly host: () => BridgeHost | undefined;
  readonly sink: () => InboundSink | undefined;
  readonly ids: MatrixIds;
  readonly membership: MembershipCache;
  readonly roomState: RoomStateReader;
  readonly commands: BridgeCommands;
  readonly upgrades: RoomUpgrades;
  /** Event ID → txn ID of our recent sends: echo keys when the homeserver omits unsigned.transaction_id. */
  readonly sentTxn: BoundedMap<string, string>;
  readonly logger: Logger;
}

export class InboundEvents {
  /** Replies mention the replied-to author (remembered here, added to posts by the bridge). */
  readonly replyMentions = new ReplyMentions((roomId, eventId) => this.eventField(roomId, eventId, 'sender'));

  constructor(private readonly deps: InboundEventsDeps) {}

  /** Receipts are best effort: a later one covers a lost one, so they never hold a transaction back. */
  passReceipts(ephemeral: readonly unknown[]): void {
    const sink = this.deps.sink();
    if (sink === undefined) return;
    for (const e of readEventsOf(ephemeral, this.deps.ctx(), this.deps.ids.botUserId)) {
      sink(e).catch((err: unknown) => this.deps.logger.debug(`receipt ${e.platformEventId}: ${errorMessage(err)}`));
    }
  }

  async handle(ev: MatrixEvent, recorder: TransactionRecorder): Promise<void> {
    const { ids, roomState, upgrades, commands, logger } = this.deps;
    this.replyMentions.remember(ev.event_id, ev.sender);
    if (ev.type === 'm.room.member' && ev.state_key !== undefined) this.rememberMember(ev, ev.state_key);
    // The bot's own messages (command answers, failure notices) are bridge chatter, not room content.
    if (ev.sender === ids.botUserId && (ev.type === 'm.room.message' || ev.type === 'm.reaction')) return;
    // A further file event of one of our posts (outbound-files.ts): the post was recorded with its first event.
    if (isFileOfEcho(ev, ids)) return;
    const ctx = this.deps.ctx();
    if (ev.type === 'm.room.power_levels' && ev.state_key === '') {
      if (upgrades.isReplaced(ev.room_id)) return; // the old room closed by its upgrade (room-upgrade.ts)
      const prevContent = ev.unsigned?.prev_content as PowerLevelsContent | undefined;
      const previous = prevContent ?? roomState.knownPowerLevels(ev.room_id);
      roomState.rememberPowerLevels(ev.room_id, ev.content as PowerLevelsContent);
      for (const e of mapPowerLevels(ev, ctx, previous)) this.record(e, recorder);
      return;
    }
    if (ev.type === 'm.room.tombstone') await upgrades.onTombstone(ev);
    const notice = lifecycleNotice(ev);
    const mapped = mapMatrixEvent(ev, ctx);
    if (notice !== undefined || mapped.kind === 'command' || mapped.kind === 'botInvite') await recorder.flush();
    if (notice !== undefined && (await this.deps.host()?.status(roomRef(ev.room_id)))) {
      logger.warn(`room ${ev.room_id} event ${ev.event_id} (${ev.type}): ${notice}`);
      await commands.sendNotice(ev.room_id, ev.event_id, notice, txnIdFor('lifecycle', ev.event_id));
    }
    switch (mapped.kind) {
      case 'inbound':
        for (const e of mapped.events) this.record(this.withEchoKeys(e), recorder);
        return;
      case 'redaction': {
        const targetType = await this.eventField(ev.room_id, mapped.target, 'type');
        this.record(this.withEchoKeys(mapRedaction(ev, ctx, targetType)), recorder);
        return;
      }
      case 'command':
        await commands.run(ev, mapped.command, mapped.unknown, mapped.argument);
        return;
      case 'botInvite':
        if (
          await this.deps
            .bot()
            .join(ev.room_id)
            .then(
              () => true,
              (e: unknown) => logger.warn(`room ${ev.room_id}: could not accept the bot's invite: ${errorMessage(e)}`),
            )
        ) {
          await upgrades.followInvite(ev.room_id, ev.sender);
        }
        return;
      case 'ignored':
        logger.debug(`room ${ev.room_id} event ${ev.event_id}: ignored (${mapped.reason})`);
        return;
    }
  }

  /** A string field of an event (its type, to tell an unlike from a delete; its sender), or undefined when it cannot be read. */
  async eventField(roomId: string, eventId: string, field: 'type' | 'sender'): Promise<string | undefined> {
    try {
      const ev = (await this.deps.bot().matrixClient.getEvent(roomId, eventId)) as Record<string, unknown>;
      return typeof ev[field] === 'string' ? ev[field] : undefined;
    } catch (e) {
      this.deps.logger.debug(`room ${roomId}: cannot read event ${eventId}: ${errorMessage(e)}`);
      return undefined;
    }
  }

  private rememberMember(ev: MatrixEvent, stateKey: string): void {
    const profile: { displayname?: string; avatar_url?: string } = {};
    if (typeof ev.content['displayname'] === 'string') profile.displayname = ev.content['displayname'];
    if (typeof ev.content['avatar_url'] === 'string') profile.avatar_url = ev.content['avatar_url'];
    const m = ev.content['membership'];
    this.deps.membership.setMemberEntry(
      ev.room_id,
      stateKey,
      (typeof m === 'string' && ['join', 'invite', 'leave', 'ban'].includes(m) ? m : null) as UserMembership,
      profile,
    );
  }

  private withEchoKeys(e: EchoKeyedInboundEvent): EchoKeyedInboundEvent {
    if (e.kind !== 'message' || e.echoKeys !== undefined) return e;
    const txn = this.deps.sentTxn.get(e.platformEventId);
    return txn === undefined ? e : { ...e, echoKeys: [txn] };
  }

  private record(e: InboundEvent, recorder: TransactionRecorder): void {
    const sink = this.deps.sink();
    if (!sink) throw new PlatformError(ErrorCode.PlatformUnavailable, 'bridge stopped');
    recorder.defer(sink(e));
  }
}
