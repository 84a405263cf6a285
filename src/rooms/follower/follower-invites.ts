/**
 * A local user of a mirror room invites a MIMI user of another provider (protocol-06 §3.3, "Bob
 * adds Cathy to the Room"): `!mimi invite <address>` in a MUC or Matrix room that mirrors a room
 * hubbed elsewhere.
 *
 * 1. `/keyMaterial` for the invitee, sent to the room's HUB (not to the invitee's provider: "MUST
 *    be sent via the hub provider"), which passes it on and records where the KeyPackages came
 *    from (hub/key-material-proxy.ts); signed with our provider key, `requestingUser` = inviter.
 * 2. The inviter's own client commits the Adds with the invitee's participant entry (member) and
 *    sends it with the Welcome by `/update`; the hub checks the inviter's role (canAddParticipant),
 *    routes the Welcome by KeyPackageRef and fans the commit out.
 *
 * `wrongEpoch` (a commit of the hub still on its way to us) is retried once our clients caught up.
 */
import { Injectable, Logger } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../../common/errors';
import { type UserUri, domainOf } from '../../common/ids';
import { BANNED_ROLE_INDEX } from '../../mls';
import type { RoomRecord } from '../../persistence/repositories/room.repository';
import { ParticipantRole } from '../../ports';
import { FollowerService } from '../follower.service';
import { KeyMaterialClient, roomRequiredCapabilities } from '../key-material-client';
import { keyMaterialRefusal } from '../key-material-refusal';
import { MlsGroups } from '../mls-groups';
import { RoomLocks } from '../room-locks';
import { participantOf, roleIndexOf } from '../room-policy';
import { RoomSupport } from '../room-support';
import { hubKeyMaterialRequest } from '../wire-support';

const MEMBER_ROLE = roleIndexOf(ParticipantRole.Member);
const MAX_ATTEMPTS = 3;
const CATCH_UP_MS = 5_000;

type Attempt = { readonly kind: 'done' } | { readonly kind: 'behind'; readonly epoch: bigint };

@Injectable()
export class FollowerInvites {
  private readonly logger = new Logger(FollowerInvites.name);

  constructor(
    private readonly support: RoomSupport,
    private readonly groups: MlsGroups,
    private readonly locks: RoomLocks,
    private readonly keyMaterial: KeyMaterialClient,
    private readonly follower: FollowerService,
  ) {}

  /**
   * `inviter` (our user, a member of the mirror room's MIMI room) invites `target` into `room`.
   * Resolves once the hub accepted the Add.
   * @throws GatewayError NotAllowed (the inviter has no client in the room, the target is banned,
   *   or the hub refused the commit, with its reason), the key material refusals of
   *   `keyMaterialRefusal` (NotFound, Forbidden, PeerUnavailable), PeerUnavailable when the hub
   *   cannot be reached
   */
  async invite(room: RoomRecord, target: UserUri, inviter: UserUri): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.locks.run(room.roomUri, () => this.attempt(room, target, inviter));
      if (outcome.kind === 'done') return;
      if (attempt >= MAX_ATTEMPTS) {
        throw new GatewayError(ErrorCode.PeerUnavailable, `the hub of ${room.roomUri} kept moving on; try again`, {
          retryable: true,
        });
      }
      await this.follower.waitForEpoch(room.roomUri, outcome.epoch, CATCH_UP_MS);
    }
  }

  private async attempt(room: RoomRecord, target: UserUri, inviter: UserUri): Promise<Attempt> {
    const group = await this.groups.group(room.roomUri);
    if (group === undefined || !group.isLocalMember(inviter)) {
      throw new GatewayError(ErrorCode.NotAllowed, `${inviter} has no client in ${room.roomUri}: join it first`);
    }
    const view = this.groups.summaryOf(group);
    const entry = participantOf(view.participants, target);
    if (entry?.roleIndex === BANNED_ROLE_INDEX) throw new GatewayError(ErrorCode.NotAllowed, `${target} is banned`);
    if (entry !== undefined && view.members.some((m) => m.user === target)) return { kind: 'done' };
    const request = hubKeyMaterialRequest(await this.groups.hub(), {
      requestingUser: inviter,
      targetUser: target,
      roomId: room.roomUri,
    });
    const fetched = await this.keyMaterial.fetch(
      room.hubDomain,
      request,
      roomRequiredCapabilities(group.coreState.context.extensions),
      this.support.now(),
    );
    const usable = fetched.response === undefined ? [] : fetched.usable;
    if (usable.length === 0) {
      const refusal = keyMaterialRefusal(
        target,
        domainOf(target) ?? room.hubDomain,
        fetched.response === undefined
          ? { kind: 'http', status: fetched.httpStatus, body: fetched.body }
          : (fetched.outcome ?? { kind: 'clients', clientStatuses: [] }),
      );
      throw new GatewayError(refusal.code, `${refusal.message} (through the hub ${room.hubDomain})`);
    }
    const response = await this.follower.requestChange(
      room,
      group,
      inviter,
      (list) => (participantOf(list, target) ? [...list] : [...list, { user: target, roleIndex: MEMBER_ROLE }]),
      { add: usable.map((k) => k.bytes) },
    );
    if (response.responseCode === 'wrongEpoch') return { kind: 'behind', epoch: response.currentEpoch };
    if (response.responseCode !== 'success') {
      throw new GatewayError(
        ErrorCode.NotAllowed,
        `the hub ${room.hubDomain} refused the invite: ${response.responseCode} ${response.errorDescription}`.trim(),
      );
    }
    this.logger.log(`room=${room.roomUri}: ${inviter} added ${target} (${usable.length} client(s), through the hub)`);
    return { kind: 'done' };
  }
}
