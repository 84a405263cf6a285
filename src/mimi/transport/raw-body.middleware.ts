/**
 * MIMI request bodies are TLS presentation language bytes (protocol-06 §2), so controllers get the
 * exact bytes as a Buffer in `req.body`. The draft names no Content-Type (MIMI-NOTES §1.2, Draft
 * issue): we send `application/octet-stream` and accept any type, or none, on receipt.
 */
import { Injectable, NestMiddleware } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, GatewayError } from '../../common/errors';

/** What we send as Content-Type (the obsolete kohbrok transport draft's choice). */
export const MIMI_CONTENT_TYPE = 'application/octet-stream';

/** Largest request body we read (config-free on purpose: it bounds memory per request). */
export const MAX_MIMI_BODY_BYTES = 1024 * 1024;

/** Past this many bytes of an oversized body we stop draining and drop the connection. */
const MAX_DRAIN_BYTES = 4 * MAX_MIMI_BODY_BYTES;

type BodyRequest = IncomingMessage & { body?: unknown; rawBody?: Buffer };

/**
 * Reads the whole request body into `req.body` as a Buffer (empty when there is none).
 * Over MAX_MIMI_BODY_BYTES → 413 MIMI_PAYLOAD_TOO_LARGE. Requires the Nest app to be created with
 * `bodyParser: false`, or at least not to hand these routes to a JSON parser first.
 */
@Injectable()
export class MimiRawBodyMiddleware implements NestMiddleware<BodyRequest, ServerResponse> {
  async use(req: BodyRequest, res: ServerResponse, next: (error?: unknown) => void): Promise<void> {
    if (Buffer.isBuffer(req.body)) return next();
    if (Buffer.isBuffer(req.rawBody)) {
      req.body = req.rawBody;
      return next();
    }
    if (req.readableEnded) {
      throw new GatewayError(ErrorCode.Internal, 'the request body was consumed before MimiRawBodyMiddleware ran');
    }
    try {
      req.body = await readBody(req, MAX_MIMI_BODY_BYTES);
    } catch (e) {
      if (e instanceof GatewayError && e.code === ErrorCode.PayloadTooLarge) res.setHeader('Connection', 'close');
      throw e;
    }
    next();
  }
}

/**
 * Read `req` to the end. An oversized body is drained (so the peer can read our 413 instead of
 * seeing a reset) up to MAX_DRAIN_BYTES, then the connection is dropped.
 * @throws GatewayError PayloadTooLarge, or Malformed when the peer aborts mid-body.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    const chunks: Buffer[] = [];
    let received = 0;
    let tooLarge = Number.isFinite(declared) && declared > limit;
    const tooLargeError = (): GatewayError =>
      new GatewayError(ErrorCode.PayloadTooLarge, `request body exceeds ${limit} bytes`);
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
    };
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received > limit) tooLarge = true;
      if (!tooLarge) chunks.push(chunk);
      if (received > MAX_DRAIN_BYTES) {
        cleanup();
        req.socket.destroy();
        reject(tooLargeError());
      }
    };
    const onEnd = (): void => {
      cleanup();
      if (tooLarge) reject(tooLargeError());
      else resolve(Buffer.concat(chunks, received));
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(new GatewayError(ErrorCode.Malformed, 'could not read the request body', { cause: e }));
    };
    const onAborted = (): void => onError(new Error('the peer aborted the request'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}
