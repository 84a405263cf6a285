/**
 * A post with several files, between two gateways over mutual TLS (memory platform): every file
 * crosses, in order, with the caption, both ways (hub → follower and follower → hub → back), as
 * one MIMI message whose body is a processAll MultiPart of the caption and one ExternalPart per
 * file (src/rooms/content-mapping.ts); an edit keeps them. Before, only the first file crossed,
 * and an edit none.
 */
import type { RoomUri } from '../../src/common/ids';
import type { Attachment, MessageAction } from '../../src/ports';
import { MIRROR_PREFIX } from '../fakes/memory-platform';
import * as pairs from './gateway-pair';

const { GatewayPair, eventually, found, linkWithBobInvited, postedBody } = pairs;
const [ALICE, BOB] = [pairs.ALICE_ON_A, pairs.BOB_ON_B];
const CLUB = '!files:a.example';

/** Links (the memory platform holds no media): passed on as they are, never fetched. */
const FILES: readonly Attachment[] = [
  { url: 'https://files.example/a.png', contentType: 'image/png', filename: 'a.png', size: 3 },
  { url: 'https://files.example/b.pdf', contentType: 'application/pdf', filename: 'b.pdf' },
  { url: 'https://files.example/c.png', contentType: 'image/png', filename: 'c.png', description: 'the third' },
];

describe('a post with several files between two gateways', () => {
  let pair: pairs.GatewayPair;
  let club: RoomUri;

  const post = (text: string, attachments: readonly Attachment[]): MessageAction => ({
    type: 'post',
    body: { kind: 'text', text, attachments },
  });
  /** The post carrying `url` in `roomId` on `gw`'s platform. */
  const posted = (gw: pairs.GatewayUnderTest, roomId: string, url: string) =>
    postedBody(gw, roomId, (body) => body.attachments?.some((a) => a.url === url) === true);

  beforeAll(async () => {
    pair = await GatewayPair.start('sqlite');
    club = await linkWithBobInvited(pair, CLUB, 'Files');
  }, 60_000);

  afterAll(async () => {
    await pair?.stop();
  });

  it('carries every file, in order, with the caption, both ways', async () => {
    const mirror = `${MIRROR_PREFIX}${club}`;
    const fromBob = FILES.map((f) => ({ ...f, url: `${f.url}?bob` }));
    await pair.a.platform.emitLocal(CLUB, ALICE, post('three files from alice', FILES));
    await pair.b.platform.emitLocal(mirror, BOB, post('', fromBob));

    const onB = await eventually(() => {
      const body = posted(pair.b, mirror, FILES[0]!.url);
      expect(body).toBeDefined();
      return body!;
    });
    expect(onB).toMatchObject({ text: 'three files from alice', attachments: FILES });
    expect(onB.attachments).toHaveLength(3);

    const onA = await eventually(() => {
      const body = posted(pair.a, CLUB, fromBob[0]!.url);
      expect(body).toBeDefined();
      return body!;
    });
    expect(onA.attachments).toEqual(fromBob);
  });

  it('an edit of the caption keeps every file on the other side', async () => {
    const mirror = `${MIRROR_PREFIX}${club}`;
    const files = FILES.map((f) => ({ ...f, url: `${f.url}?edit` }));
    const original = await pair.a.platform.emitLocal(CLUB, ALICE, post('first caption', files));
    await found(() => posted(pair.b, mirror, files[0]!.url), 'the post on B');
    await pair.a.platform.emitLocal(CLUB, ALICE, {
      type: 'edit',
      target: { platformEventId: original },
      body: { kind: 'text', text: 'better caption', attachments: files },
    });
    const edit = await eventually(() => {
      const e = pair.b.platform.rooms
        .get(mirror)
        ?.timeline.find(
          (x) => x.kind === 'message' && x.action.type === 'edit' && x.action.body.text === 'better caption',
        );
      expect(e).toBeDefined();
      return e!.kind === 'message' && e!.action.type === 'edit' ? e!.action.body : undefined;
    });
    expect(edit?.attachments).toEqual(files);
  });
});
