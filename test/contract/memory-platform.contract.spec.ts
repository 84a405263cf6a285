import { Platform } from '../../src/common/ids';
import { ParticipantRole } from '../../src/ports';
import { MemoryPlatform } from '../fakes/memory-platform';
import { describePlatformBridgeContract } from './platform-bridge.contract';

/** The memory platform (test/fakes) is what the core's tests stand on: it must keep the port contract too. */
describePlatformBridgeContract({
  name: 'MemoryPlatform',
  capabilities: { puppetMembership: true, moderation: true, roles: true, mirrorRooms: true, joinRules: true },
  async start(sink) {
    const platform = new MemoryPlatform();
    const room = platform.createRoom('!lobby', 'Lobby');
    room.joinRule = 'public';
    const native = { platform: Platform.Memory, userId: '@alice' };
    const other = { platform: Platform.Memory, userId: '@bob' };
    room.members.set(native.userId, { user: native, role: ParticipantRole.Owner });
    room.members.set(other.userId, { user: other, role: ParticipantRole.Member });
    await platform.start(sink);
    /** Native messages the sink refused: the memory platform hands them back to the caller, who sends again. */
    const refused: (() => Promise<unknown>)[] = [];
    return {
      bridge: platform,
      room: { platform: Platform.Memory, roomId: room.roomId },
      joinRule: 'public',
      native,
      other,
      async nativePost(text) {
        const id = `$native-${Math.random().toString(36).slice(2)}`;
        const send = (): Promise<string> =>
          platform.emitLocal(room.roomId, native, { type: 'post', body: { kind: 'text', text } }, id);
        await send().catch((e: unknown) => {
          refused.push(send);
          throw e;
        });
      },
      async redeliver() {
        for (const again of refused.splice(0)) await again();
      },
      texts() {
        const posted = room.timeline.flatMap((e) =>
          e.kind === 'message' && (e.action.type === 'post' || e.action.type === 'edit') ? [e.action.body.text] : [],
        );
        return [...posted, ...platform.notices.filter((n) => n.room === room.roomId).map((n) => n.text)];
      },
      async stop() {
        await platform.stop();
      },
    };
  },
});
