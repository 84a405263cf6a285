/** What other folders may use from src/rooms (see README.md). */
export { RoomsModule } from './rooms.module';
export { RoomsService, type RoomInfo, type RoomEventInfo } from './rooms.service';
export { HubService } from './hub.service';
export { FollowerService } from './follower.service';
export { IdentifierQueries } from './identifier-query';
export { AbuseReports } from './abuse/abuse-reports';
export { ConsentService } from './consent/consent';
export { MlsGroups } from './mls-groups';
export { LeafKeyRotation } from './leaf-key-rotation';
export { RenderWorker } from './render.worker';
export { MediaAssets } from './media-assets';
export { type RoomsOptions } from './rooms.tokens';
export { legacyUserUri, parseLegacyUserUri } from './identity';
export { contentForAction } from './content-mapping';
