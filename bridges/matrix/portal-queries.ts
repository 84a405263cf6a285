/**
 * The homeserver's queries for users and aliases in our namespaces (Matrix AS API: GET /users,
 * GET /rooms): a ghost asked for is registered; a portal alias asked for has the core join the
 * MIMI room it names and the bot alias the mirror room it gets. Either answers false on failure.
 */
import type { Logger } from '@nestjs/common';
import type { Intent } from 'matrix-appservice-bridge';
import { errorMessage } from '../../src/common/errors';
import { Platform } from '../../src/common/ids';
import type { BridgeHost } from '../../src/ports';
import type { MatrixIds } from './matrix-ids';

export interface PortalQueriesDeps {
  readonly bot: () => Intent;
  readonly intentOf: (userId: string) => Intent;
  readonly host: () => BridgeHost | undefined;
  readonly ids: MatrixIds;
  readonly logger: Logger;
}

export class PortalQueries {
  constructor(private readonly deps: PortalQueriesDeps) {}

  async onUserQuery(userId: string): Promise<boolean> {
    if (this.deps.ids.userUriOfGhost(userId) === undefined) return false;
    try {
      await this.deps.intentOf(userId).ensureRegistered();
      return true;
    } catch (e) {
      this.deps.logger.warn(`user query ${userId}: ${errorMessage(e)}`);
      return false;
    }
  }

  /** A portal alias was asked for: the core joins the MIMI room and has us create its mirror. */
  async onAliasQuery(alias: string): Promise<boolean> {
    const { ids } = this.deps;
    const roomUri = ids.roomUriOfPortalAlias(alias);
    const host = this.deps.host();
    if (roomUri === undefined || !host) return false;
    try {
      // The AS API does not say who asked; the bot stands in for them.
      const room = await host.joinRemote(roomUri, { platform: Platform.Matrix, userId: ids.botUserId });
      try {
        await this.deps.bot().matrixClient.resolveRoom(alias);
      } catch {
        await this.deps.bot().matrixClient.createRoomAlias(alias, room.roomId);
      }
      return true;
    } catch (e) {
      this.deps.logger.warn(`alias query ${alias} (${roomUri}): ${errorMessage(e)}`);
      return false;
    }
  }
}
