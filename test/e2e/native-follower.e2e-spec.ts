/**
 * Issue 10 "Proof": a native MIMI follower, a small MIMI provider that is NOT a mimi-gateway
 * (test/e2e/support/native-follower.ts: openmls clients, its own mutual-TLS `/notify` and
 * `/keyMaterial` on a plain Node https server), follows a Matrix room (real Synapse) hubbed by a
 * real `mimi-gateway start` process, over mutual TLS with certificates generated at start.
 *
 * In order, on one room history: the follower's user is invited from Matrix and joins by
 * Welcome; it reads the room's name, topic, roles and participants from the group state openmls
 * holds; messages both ways; its role is changed by a Matrix power-level change and it sees it;
 * it changes the topic (an AppDataUpdate commit via `/update`) and Matrix shows it; it joins a
 * second, open room by external commit; it leaves the first room by SelfRemove and the Matrix
 * room shows its ghost leaving. Needs `npx nest build` and the openmls peer (extensions build).
 */
import { randomUUID } from 'node:crypto';
import { Platform, type RoomUri, type UserUri } from '../../src/common/ids';
import { Capability } from '../../src/mimi/room-state';
import { legacyUserUri } from '../../src/rooms/identity';
import { OpenMlsPeer, describePeer } from '../interop/openmls-peer';
import { GatewayCluster } from '../support/e2e-gateways';
import { waitForValue } from '../support/e2e-wait';
import { type ClientEvent, type MatrixUserClient, registerUser } from '../servers/synapse/synapse-server';
import { type MatrixGateway, MATRIX_IDS, linkMatrixRoom, startMatrixGateway } from './support/matrix-gateway';
import { NativeFollower, type NativeRoomState, type Notified } from './support/native-follower';

const A = 'a.example';
const B = 'b.example';
const RUN = randomUUID().slice(0, 8);
const NATE = 'nate';
const NATE_URI = `mimi://${B}/u/${NATE}` as UserUri;
const ROOM_NAME = `Native club ${RUN}`;
const TOPIC = `Chess on Fridays ${RUN}`;
const NEW_TOPIC = `Chess on Saturdays, set by a native follower ${RUN}`;
const FROM_MATRIX = `hello native follower ${RUN}`;
const FROM_NATIVE = `hello Matrix, from openmls ${RUN}`;

const SETUP_TIMEOUT_MS = 600_000;
const STEP_TIMEOUT_MS = 180_000;
const MATRIX_WAIT_MS = 60_000;
/** role_index of the port's roles (src/rooms/README.md "Roles"). */
const MEMBER = 3;
const MODERATOR = 4;

describePeer(
  'a native MIMI follower (openmls, not a gateway) in a Matrix room hubbed by mimi-gateway',
  'extensions',
  () => {
    let cluster: GatewayCluster | undefined;
    let matrix: MatrixGateway | undefined;
    let peer: OpenMlsPeer | undefined;
    let follower: NativeFollower;
    let alice: MatrixUserClient;
    let roomId: string;
    let roomUri: RoomUri;
    let openRoomId: string;
    let openRoomUri: RoomUri;
    const ghost = MATRIX_IDS.ghostUserId(NATE_URI)!;

    beforeAll(async () => {
      cluster = await GatewayCluster.create({ domains: [A, B] });
      matrix = await startMatrixGateway(cluster, A);
      await matrix.gateway.start();
      peer = await OpenMlsPeer.start({ variant: 'extensions', timeoutMs: 30_000 });
      // B is not a gateway process: our native follower listens where A's peers table puts B.
      follower = await NativeFollower.start({
        peer,
        identity: cluster.gateway(B).identity,
        caPem: cluster.caPem,
        port: cluster.gateway(B).ports.mimi,
        hubDomain: A,
        hubUrl: cluster.gateway(A).mimiUrl,
      });
      await follower.addUser(NATE);
      alice = await registerUser(matrix.synapse, 'alice');
    }, SETUP_TIMEOUT_MS);

    afterAll(async () => {
      await follower?.close().catch(() => undefined);
      await peer?.close().catch(() => undefined);
      if (matrix?.gateway.running) await matrix.gateway.stop().catch(() => matrix?.gateway.kill());
      await matrix?.synapse.stop().catch(() => undefined);
      await cluster?.dispose();
    }, 120_000);

    const scenario = (body: () => Promise<void>) => async () => {
      if (!cluster || !matrix) throw new Error('the environment was not created (see the beforeAll error)');
      const m = matrix;
      const logs = (): string =>
        `--- ${A} log tail ---\n${m.gateway.logTail(80)}\n--- native follower ---\n${JSON.stringify(follower.notified)}\n` +
        `refused: ${JSON.stringify(follower.refused)}\n--- openmls peer stderr ---\n${peer?.stderr ?? ''}`;
      try {
        await body();
      } catch (e) {
        if (e instanceof Error) e.message += `\n${logs()}`;
        throw e;
      }
    };

    const aliceUri = (): UserUri => legacyUserUri(A, Platform.Matrix, alice.userId);
    const isMember = (e: ClientEvent, room: string, membership: string): boolean =>
      e.room_id === room &&
      e.type === 'm.room.member' &&
      e.state_key === ghost &&
      e.content['membership'] === membership;
    const stateOf = (room: RoomUri): Promise<NativeRoomState> => follower.roomState(NATE, room);
    const roleNamed = (s: NativeRoomState, index: number): string | undefined =>
      s.roles.find((r) => r.roleIndex === index)?.roleName;

    it(
      'is invited from Matrix and joins by Welcome',
      scenario(async () => {
        const linked = await linkMatrixRoom(alice, ROOM_NAME);
        roomId = linked.roomId;
        roomUri = linked.roomUri as RoomUri;
        await alice.setState(roomId, 'm.room.topic', '', { topic: TOPIC });
        await alice.invite(roomId, ghost);

        const welcome = await follower.waitForNotified(
          'the Welcome',
          (n): n is Extract<Notified, { kind: 'welcome' }> => n.room === roomUri && n.kind === 'welcome',
        );
        expect(welcome.user).toBe(NATE_URI);
        await alice.waitForEvent((e) => isMember(e, roomId, 'join'), MATRIX_WAIT_MS);
        const state = await stateOf(roomUri);
        expect(state.members).toContain(NATE_URI);
        expect(follower.notified.filter((n) => n.kind === 'error')).toEqual([]);
      }),
      STEP_TIMEOUT_MS,
    );

    it(
      "reads the room's name, topic, roles and participants from the group state",
      scenario(async () => {
        const state = await waitForValue(
          () => stateOf(roomUri),
          (s) => s.topic === TOPIC,
          { timeoutMs: MATRIX_WAIT_MS, what: 'the topic in the group state' },
        );
        expect(state.metadata).toMatchObject({ roomUri, name: ROOM_NAME });
        const participants = new Map(state.participants.map((p) => [p.user, p.roleIndex]));
        expect(participants.get(NATE_URI)).toBe(MEMBER);
        // The room's creator (unlimited power in room version 12) is its owner.
        expect(roleNamed(state, participants.get(aliceUri())!)).toBe('owner');
        expect(roleNamed(state, MEMBER)).toBe('member');
        // What a member may do comes from the Matrix power levels: send, not change the topic.
        const member = state.roles.find((r) => r.roleIndex === MEMBER)!;
        expect(member.capabilities).toContain(Capability.canSendMessage);
        expect(member.capabilities).not.toContain(Capability.canChangeRoomDescription);
      }),
      STEP_TIMEOUT_MS,
    );

    it(
      'receives a Matrix message and sends one that Matrix shows',
      scenario(async () => {
        await alice.sendText(roomId, FROM_MATRIX);
        const got = await follower.waitForNotified(
          'the Matrix message',
          (n): n is Extract<Notified, { kind: 'message' }> => n.kind === 'message' && n.text.includes(FROM_MATRIX),
        );
        expect(got.sender).toBe(aliceUri());

        const answer = await follower.submitText(NATE, roomUri, FROM_NATIVE);
        expect(answer).toMatchObject({ statusCode: 'accepted' });
        const shown = await alice.waitForEvent(
          (e) => e.room_id === roomId && e.type === 'm.room.message' && e.content['body'] === FROM_NATIVE,
          MATRIX_WAIT_MS,
        );
        expect(shown.sender).toBe(ghost);
      }),
      STEP_TIMEOUT_MS,
    );

    it(
      'sees its role changed on the Matrix side (power levels)',
      scenario(async () => {
        const levels = await alice.getState<Record<string, unknown>>(roomId, 'm.room.power_levels');
        const users = { ...((levels['users'] as Record<string, number> | undefined) ?? {}), [ghost]: 50 };
        await alice.setState(roomId, 'm.room.power_levels', '', { ...levels, users });
        const state = await waitForValue(
          () => stateOf(roomUri),
          (s) => s.participants.some((p) => p.user === NATE_URI && p.roleIndex === MODERATOR),
          { timeoutMs: MATRIX_WAIT_MS, what: `${NATE_URI} a moderator in the group state` },
        );
        expect(roleNamed(state, MODERATOR)).toBe('moderator');
        expect(state.roles.find((r) => r.roleIndex === MODERATOR)!.capabilities).toContain(
          Capability.canChangeRoomDescription,
        );
      }),
      STEP_TIMEOUT_MS,
    );

    it(
      'changes the topic by an AppDataUpdate commit, and Matrix shows the new topic',
      scenario(async () => {
        const before = await stateOf(roomUri);
        const metadata = {
          ...before.metadata!,
          descriptions: [{ mediaType: '', languageTag: '', content: NEW_TOPIC }],
        };
        const { encodeRoomMetadata, RoomStateComponentId } = await import('../../src/mimi/room-state');
        const answer = await follower.commit(NATE, roomUri, {
          app_data_updates: [
            {
              component_id: RoomStateComponentId.roomMetadata,
              data: Buffer.from(encodeRoomMetadata(metadata)).toString('hex'),
            },
          ],
        });
        expect(answer).toMatchObject({ responseCode: 'success' });
        const topic = await alice.waitForEvent(
          (e) => e.room_id === roomId && e.type === 'm.room.topic' && e.content['topic'] === NEW_TOPIC,
          MATRIX_WAIT_MS,
        );
        expect(topic.content['topic']).toBe(NEW_TOPIC);
        expect((await stateOf(roomUri)).topic).toBe(NEW_TOPIC);
        // The hub's copy of the commit comes back by /notify and openmls takes it as its own.
        await follower.waitForNotified('our own commit back', (n) => n.room === roomUri && n.kind === 'commit');
        expect(follower.notified.filter((n) => n.kind === 'error')).toEqual([]);
      }),
      STEP_TIMEOUT_MS,
    );

    it(
      'joins a second, open room by external commit',
      scenario(async () => {
        const linked = await linkMatrixRoom(alice, `Open hall ${RUN}`, { preset: 'public_chat' });
        openRoomId = linked.roomId;
        openRoomUri = linked.roomUri as RoomUri;
        const answer = await follower.joinExternal(NATE, openRoomUri, MEMBER);
        expect(answer).toMatchObject({ responseCode: 'success' });
        await alice.waitForEvent((e) => isMember(e, openRoomId, 'join'), MATRIX_WAIT_MS);
        const state = await stateOf(openRoomUri);
        expect(state.participants).toContainEqual({ user: NATE_URI, roleIndex: MEMBER });
        expect(state.members).toContain(NATE_URI);

        // Messages flow in the second room too.
        const text = `in the open hall ${RUN}`;
        await alice.sendText(openRoomId, text);
        await follower.waitForNotified('the message in the open room', (n) => n.kind === 'message' && n.text === text);
      }),
      STEP_TIMEOUT_MS,
    );

    it(
      'leaves by SelfRemove, and the Matrix room shows its ghost leaving',
      scenario(async () => {
        const answer = await follower.selfRemove(NATE, roomUri);
        expect(answer).toMatchObject({ responseCode: 'success' });
        const removed = await follower.waitForNotified(
          'the commit that removes us',
          (n) => n.room === roomUri && n.kind === 'commit' && n.selfRemoved,
        );
        expect(removed).toBeDefined();
        // The proposal came first, then the commit that includes it.
        const inRoom = follower.notified.filter((n) => n.room === roomUri);
        const at = inRoom.indexOf(removed);
        expect(inRoom[at - 1]).toMatchObject({ kind: 'proposal', proposalType: 0x000a });
        await alice.waitForEvent((e) => isMember(e, roomId, 'leave'), MATRIX_WAIT_MS);
        expect(await alice.joinedMembers(roomId)).not.toContain(ghost);
        // Still in the open room.
        expect(await alice.joinedMembers(openRoomId)).toContain(ghost);
        expect(follower.notified.filter((n) => n.kind === 'error')).toEqual([]);
      }),
      STEP_TIMEOUT_MS,
    );

    it(
      'is told when the open room is unlinked at its hub: removed by a commit giving the reason',
      scenario(async () => {
        await alice.sendText(openRoomId, '!mimi unlink');
        const removed = await follower.waitForNotified(
          'the unlink commit',
          (n): n is Extract<Notified, { kind: 'commit' }> =>
            n.room === openRoomUri && n.kind === 'commit' && n.selfRemoved,
        );
        expect(removed.aad).toBe(`mimi-unlinked:unlinked by ${alice.userId} on matrix`);
        await alice.waitForEvent((e) => isMember(e, openRoomId, 'leave'), MATRIX_WAIT_MS);
        expect(follower.notified.filter((n) => n.kind === 'error')).toEqual([]);
      }),
      STEP_TIMEOUT_MS,
    );
  },
);
