/**
 * The MIMI provider endpoints this gateway serves (protocol-06 §5.2-§5.6, §5.8), thin: authenticate the
 * peer (MimiPeerGuard) and count it against its rate limit (MimiRateLimitGuard), parse the room/user URI of the path and the TLS-presentation-language body,
 * call the rooms core, encode its answer. Decisions live in src/rooms.
 */
import { Body, Controller, Header, Headers, HttpCode, Param, Post, StreamableFile, UseGuards } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import type { ProviderDomain, RoomUri, UserUri } from '../../common/ids';
import { STREAM_ORDER_HEADERS } from '../../ports';
import { parseStreamOrder } from './stream-order';
import { FollowerService, HubService, IdentifierQueries } from '../../rooms';
import {
  MIMI_CONTENT_TYPE,
  MIMI_ROUTES,
  MIMI_ROUTE_PARAM,
  MimiPeer,
  MimiPeerGuard,
  MimiRateLimitGuard,
  ParseRoomUriPipe,
  RateLimited,
  ParseUserUriPipe,
  ParseDomainPipe,
} from '../../mimi/transport';
import {
  type Codec,
  decodeAll,
  encodeValue,
  groupInfoRequestCodec,
  groupInfoResponseCodec,
  identifierRequestCodec,
  identifierResponseCodec,
  keyMaterialRequestCodec,
  keyMaterialResponseCodec,
  submitMessageRequestCodec,
  submitMessageResponseCodec,
  updateRequestCodec,
  updateRoomResponseCodec,
} from '../../mimi/wire';

function reply<T>(value: T, codec: Codec<T>): StreamableFile {
  return new StreamableFile(Buffer.from(encodeValue(value, codec)), { type: MIMI_CONTENT_TYPE });
}

@Controller()
@UseGuards(MimiPeerGuard, MimiRateLimitGuard)
export class MimiEndpointsController {
  constructor(
    private readonly hub: HubService,
    private readonly follower: FollowerService,
    private readonly identifiers: IdentifierQueries,
  ) {}

  /**
   * protocol-06 §5.5: fan-out from a room's hub; 201 (also for a duplicate body). Applied in stream
   * order when the hub pipelines (STREAM_ORDER_HEADERS, which the answer says we honour).
   */
  @Post(MIMI_ROUTES.notify)
  @RateLimited('notify')
  @HttpCode(201)
  @Header(STREAM_ORDER_HEADERS.ordered, '1')
  async notify(
    @MimiPeer() peer: ProviderDomain,
    @Param(MIMI_ROUTE_PARAM.notify, ParseRoomUriPipe) roomUri: RoomUri,
    @Headers() headers: IncomingHttpHeaders,
    @Body() body: Buffer,
  ): Promise<void> {
    await this.follower.notify(peer, roomUri, body, parseStreamOrder(headers));
  }

  /** protocol-06 §5.4 (hub). */
  @Post(MIMI_ROUTES.submitMessage)
  @RateLimited('submitMessage')
  @HttpCode(200)
  async submitMessage(
    @MimiPeer() peer: ProviderDomain,
    @Param(MIMI_ROUTE_PARAM.submitMessage, ParseRoomUriPipe) roomUri: RoomUri,
    @Body() body: Buffer,
  ): Promise<StreamableFile> {
    const request = decodeAll(body, submitMessageRequestCodec);
    return reply(await this.hub.submitMessage(peer, roomUri, request), submitMessageResponseCodec);
  }

  /** protocol-06 §5.3 (hub). */
  @Post(MIMI_ROUTES.update)
  @RateLimited('update')
  @HttpCode(200)
  async update(
    @MimiPeer() peer: ProviderDomain,
    @Param(MIMI_ROUTE_PARAM.update, ParseRoomUriPipe) roomUri: RoomUri,
    @Body() body: Buffer,
  ): Promise<StreamableFile> {
    const request = decodeAll(body, updateRequestCodec);
    return reply(await this.hub.update(peer, roomUri, request), updateRoomResponseCodec);
  }

  /** protocol-06 §5.2 (target provider of our legacy users). */
  @Post(MIMI_ROUTES.keyMaterial)
  @RateLimited('keyMaterial')
  @HttpCode(200)
  async keyMaterial(
    @MimiPeer() peer: ProviderDomain,
    @Param(MIMI_ROUTE_PARAM.keyMaterial, ParseUserUriPipe) targetUser: UserUri,
    @Body() body: Buffer,
  ): Promise<StreamableFile> {
    const request = decodeAll(body, keyMaterialRequestCodec);
    return reply(await this.follower.keyMaterial(peer, targetUser, request), keyMaterialResponseCodec);
  }

  /** protocol-06 §5.6 (hub). */
  @Post(MIMI_ROUTES.groupInfo)
  @RateLimited('groupInfo')
  @HttpCode(200)
  async groupInfo(
    @MimiPeer() peer: ProviderDomain,
    @Param(MIMI_ROUTE_PARAM.groupInfo, ParseRoomUriPipe) roomUri: RoomUri,
    @Body() body: Buffer,
  ): Promise<StreamableFile> {
    const request = decodeAll(body, groupInfoRequestCodec);
    return reply(await this.hub.groupInfo(peer, roomUri, request), groupInfoResponseCodec);
  }

  /**
   * protocol-06 §5.8 (target provider of our legacy users; src/rooms/identifier-query.ts): 200
   * with the draft's code (`success`, `notFound`, `forbidden`, `unsupportedField`) in the body; a
   * path naming another provider is 404 MIMI_NOT_FOUND, past `limits.requests.identifierQuery` 429.
   */
  @Post(MIMI_ROUTES.identifierQuery)
  @RateLimited('identifierQuery')
  @HttpCode(200)
  async identifierQuery(
    @MimiPeer() peer: ProviderDomain,
    @Param(MIMI_ROUTE_PARAM.identifierQuery, ParseDomainPipe) domain: ProviderDomain,
    @Body() body: Buffer,
  ): Promise<StreamableFile> {
    const request = decodeAll(body, identifierRequestCodec);
    return reply(await this.identifiers.answer(peer, domain, request), identifierResponseCodec);
  }
}
