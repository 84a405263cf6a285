import { Controller, Get, Header, Req } from '@nestjs/common';
import type { Request } from 'express';
import { GatewayConfig } from '../../config/gateway-config';
import { MimiDirectory, buildDirectory, directoryBaseUrl } from './mimi-directory';
import { MIMI_DIRECTORY_PATH } from './mimi-paths';

/** How long peers may cache our directory (PeerRegistry caches theirs for the same time). */
const DIRECTORY_MAX_AGE_SECONDS = 3600;

/**
 * `GET /.well-known/mimi-protocol-directory` (protocol-06 §5.1). Open to anyone: no client
 * certificate is needed to learn where our endpoints are.
 */
@Controller()
export class MimiDirectoryController {
  constructor(private readonly config: GatewayConfig) {}

  @Get(MIMI_DIRECTORY_PATH.slice(1))
  @Header('Cache-Control', `public, max-age=${DIRECTORY_MAX_AGE_SECONDS}`)
  directory(@Req() req: Request): MimiDirectory {
    return buildDirectory(directoryBaseUrl(this.config, req.socket.localPort));
  }
}
