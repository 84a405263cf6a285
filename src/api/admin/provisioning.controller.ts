/**
 * The provisioning API on the admin listener (plain HTTP, loopback; the bearer token of
 * `admin.tokenFile` and a same-origin Host, see provisioning.guard.ts): link a legacy room (this gateway becomes its hub), list rooms,
 * unlink, and read a room's stored history. Errors are `{ errcode, error }` with the status of
 * src/common/errors.ts.
 */
import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, UseFilters, UseGuards } from '@nestjs/common';
import { ValidationError } from '../../common/errors';
import { type RoomUri, type UserUri, parseMimiUri } from '../../common/ids';
import { GatewayExceptionFilter } from '../../mimi/transport';
import type { RoomEventInfo, RoomInfo } from '../../rooms';
import { PROVISIONING, type ProvisioningDeps, ProvisioningGuard } from './provisioning.guard';

function roomUriParam(value: string): RoomUri {
  if (parseMimiUri(value)?.kind !== 'r') throw new ValidationError(`not a MIMI room URI: ${value}`);
  return value as RoomUri;
}

@Controller('provisioning')
@UseGuards(ProvisioningGuard)
@UseFilters(GatewayExceptionFilter)
export class ProvisioningController {
  constructor(@Inject(PROVISIONING) private readonly deps: ProvisioningDeps) {}

  /** Link an existing legacy room: `{ platform, roomId }` → 201 `{ roomUri }`. */
  @Post('rooms')
  @HttpCode(201)
  async link(@Body() body: unknown): Promise<{ roomUri: RoomUri }> {
    const { platform, roomId } = (body ?? {}) as { platform?: unknown; roomId?: unknown };
    if (typeof platform !== 'string' || platform.length === 0 || typeof roomId !== 'string' || roomId.length === 0) {
      throw new ValidationError('body must be { "platform": string, "roomId": string }');
    }
    return { roomUri: await this.deps.rooms.link(platform, roomId) };
  }

  @Get('rooms')
  list(): Promise<RoomInfo[]> {
    return this.deps.rooms.list();
  }

  @Delete('rooms/:roomUri')
  @HttpCode(204)
  async unlink(@Param('roomUri') roomUri: string): Promise<void> {
    await this.deps.rooms.unlink(roomUriParam(roomUri));
  }

  /**
   * Invite a MIMI user of another provider into a room hubbed here: `{ userUri }` → 200 once they
   * are a participant (for platforms with nothing to invite, e.g. XMPP relay mode).
   */
  @Post('rooms/:roomUri/invite')
  @HttpCode(200)
  async invite(
    @Param('roomUri') roomUri: string,
    @Body() body: unknown,
  ): Promise<{ roomUri: RoomUri; userUri: UserUri }> {
    const { userUri } = (body ?? {}) as { userUri?: unknown };
    if (typeof userUri !== 'string' || parseMimiUri(userUri)?.kind !== 'u') {
      throw new ValidationError('body must be { "userUri": "mimi://<provider>/u/<user>" }');
    }
    const room = roomUriParam(roomUri);
    await this.deps.rooms.inviteRemote(room, userUri as UserUri);
    return { roomUri: room, userUri: userUri as UserUri };
  }

  @Get('rooms/:roomUri/events')
  events(@Param('roomUri') roomUri: string): Promise<RoomEventInfo[]> {
    return this.deps.rooms.history(roomUriParam(roomUri));
  }
}
