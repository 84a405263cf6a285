/** The stream order headers of a pipelined `/notify` (STREAM_ORDER_HEADERS, src/rooms/follower/notify-order.ts). */
import type { IncomingHttpHeaders } from 'node:http';
import { ErrorCode, GatewayError } from '../../common/errors';
import { STREAM_ORDER_HEADERS, type StreamOrder } from '../../ports';

const SEQ = /^[1-9][0-9]{0,15}$/;

/**
 * The request's place in its stream, or undefined when the hub sent none (it does not pipeline).
 * @throws GatewayError Malformed (400) when a header is not a positive whole number, or `after`
 *   comes without `last` or is not below it
 */
export function parseStreamOrder(headers: IncomingHttpHeaders): StreamOrder | undefined {
  const last = seqHeader(headers, STREAM_ORDER_HEADERS.last);
  const after = seqHeader(headers, STREAM_ORDER_HEADERS.after);
  if (last === undefined) {
    if (after === undefined) return undefined;
    throw new GatewayError(ErrorCode.Malformed, `${STREAM_ORDER_HEADERS.after} without ${STREAM_ORDER_HEADERS.last}`);
  }
  if (after === undefined) return { last };
  if (after >= last) {
    throw new GatewayError(
      ErrorCode.Malformed,
      `${STREAM_ORDER_HEADERS.after} (${after}) must be below ${STREAM_ORDER_HEADERS.last} (${last})`,
    );
  }
  return { last, after };
}

function seqHeader(headers: IncomingHttpHeaders, name: string): number | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !SEQ.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new GatewayError(
      ErrorCode.Malformed,
      `${name} must be one positive whole number, not ${JSON.stringify(value)}`,
    );
  }
  return Number(value);
}
