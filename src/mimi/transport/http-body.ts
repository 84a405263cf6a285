import { ErrorCode, GatewayError } from '../../common/errors';

/**
 * Read a response body stream to the end, refusing more than `limit` bytes.
 * @throws GatewayError Malformed when the body is larger than `limit`.
 */
export async function readLimitedBody(
  body: AsyncIterable<Uint8Array> & { destroy?: (e?: Error) => unknown },
  limit: number,
  what: string,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) {
      body.destroy?.();
      throw new GatewayError(ErrorCode.Malformed, `${what} exceeds ${limit} bytes`);
    }
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
  return Buffer.concat(chunks, size);
}
