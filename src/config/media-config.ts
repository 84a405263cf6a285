import 'reflect-metadata';
import { IsArray, Matches } from 'class-validator';
import { IntRange } from '../common/config-schema';

/**
 * The `media` section: attachments carried between platforms through the hub (docs/EXTENSIONS.md
 * "Attachments through the hub"). The same limits apply when this gateway serves an attachment to
 * a peer and when it fetches one from a peer; what is over them arrives as a text fallback.
 */
export class MediaConfig {
  /** Largest attachment served or fetched, in bytes (Prosody's mod_http_file_share default is 10 MiB). */
  @IntRange(1, 1024 * 1024 * 1024, 'bytes')
  maxBytes: number = 10 * 1024 * 1024;

  /** Media types carried (`type/subtype`, or `type/*`); anything else arrives as a text fallback. */
  @IsArray({ message: 'a list of media types such as image/png or image/*' })
  @Matches(/^[a-z0-9!#$&^_.+-]+\/(\*|[a-z0-9!#$&^_.+-]+)$/, {
    each: true,
    message: 'a list of media types such as image/png or image/* (lower case)',
  })
  allowedContentTypes: string[] = [
    'image/png',
    'image/jpeg',
    'image/gif',
    'image/webp',
    'video/mp4',
    'video/webm',
    'audio/mpeg',
    'audio/ogg',
    'audio/mp4',
    'application/pdf',
    'text/plain',
  ];

  /** How long one fetch of an attachment from a peer may take, in milliseconds. */
  @IntRange(100, 600_000, 'milliseconds')
  fetchTimeoutMs: number = 30_000;
}

/** Whether `contentType` (parameters ignored) is one of `allowed` (`type/*` entries match the type). */
export function isAllowedContentType(contentType: string, allowed: readonly string[]): boolean {
  const essence = contentType.split(';')[0]!.trim().toLowerCase();
  if (!/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(essence)) return false;
  const type = essence.slice(0, essence.indexOf('/'));
  return allowed.some((a) => a === essence || a === `${type}/*`);
}
