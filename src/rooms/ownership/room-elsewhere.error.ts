import { ErrorCode, GatewayError } from '../../common/errors';

/**
 * Another gateway process owns the room (scale-out, README.md here): retryable. MIMI requests
 * get 503 `GW_ROOM_ELSEWHERE` with `Retry-After`; a bridge's event is refused, so its platform
 * redelivers it. The owner's name stays in our logs (it names a host).
 */
export class RoomElsewhereError extends GatewayError {
  constructor(
    readonly roomUri: string,
    readonly owner: string,
    retryAfterMs: number,
  ) {
    super(ErrorCode.RoomElsewhere, `room ${roomUri} is served by another gateway process; retry later`, {
      retryable: true,
      retryAfterMs,
      humanMessage: 'This room is moving between gateway processes; try again in a moment.',
    });
  }
}
