/**
 * Attachments both ways through MIMI (issue 13 item 2; docs/EXTENSIONS.md "Attachments through the
 * hub"), everything real (test/e2e/support/headline-env.ts): Synapse, Prosody with its XEP-0363
 * upload service (mod_http_file_share), gateway A (Matrix, hub) and gateway B (XMPP, follower).
 *
 * - an image alice posts on Matrix reaches bob's XMPP client as an upload-service URL (body +
 *   XEP-0066 OOB) that he downloads with an HTTP GET, byte for byte;
 * - an image bob uploads with XEP-0363 (slot request over his c2s stream, PUT) and posts with OOB
 *   reaches alice as an m.image whose mxc she downloads through the client-server API;
 * - a file of a type not allowed, and one over `media.maxBytes`, arrive as a text line naming the
 *   file and why it was not transferred; the message is not lost.
 *
 * Needs a build first: `npx nest build && npx jest --config test/jest-e2e.config.js --runInBand media`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { NS } from '../../bridges/xmpp/protocol/namespaces';
import { type XmlElement, xml } from '../../bridges/xmpp/protocol/xml';
import type { ClientEvent, MatrixUserClient } from '../servers/synapse/synapse-server';
import { HeadlineEnv, envScenario } from './support/headline-env';
import { MatrixSide, XmppSide, runTag } from './support/headline-sides';

const RUN = runTag();
const BOB = { username: 'bob', password: 'bob-pw' };
const BOB_NICK = 'bob';
const SETUP_TIMEOUT_MS = 600_000;
const STEP_TIMEOUT_MS = 120_000;
/** Over gateway B's default `media.maxBytes` (10 MiB), under Synapse's upload limit. */
const OVERSIZE_BYTES = 10 * 1024 * 1024 + 4096;

/** A small PNG-looking file: the PNG signature and random bytes (nothing decodes it). */
function pngBytes(size: number): Buffer {
  return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), randomBytes(size - 8)]);
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** alice uploads `bytes` to Synapse's media repository and posts them as `msgtype`. */
async function postMatrixFile(
  alice: MatrixSide,
  bytes: Buffer,
  file: { name: string; mimetype: string; msgtype: 'm.image' | 'm.file' },
): Promise<string> {
  const client = alice.client;
  const res = await fetch(`${client.baseUrl}/_matrix/media/v3/upload?filename=${encodeURIComponent(file.name)}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${client.accessToken}`, 'content-type': file.mimetype },
    body: bytes,
  });
  expect(res.status).toBe(200);
  const { content_uri } = (await res.json()) as { content_uri: string };
  return client.send(alice.roomId, 'm.room.message', {
    msgtype: file.msgtype,
    body: file.name,
    url: content_uri,
    info: { mimetype: file.mimetype, size: bytes.length },
  });
}

/** The bytes behind an mxc URI, as a Matrix client downloads them (authenticated media, v1.11). */
async function downloadMxc(client: MatrixUserClient, mxc: string): Promise<Buffer> {
  const m = /^mxc:\/\/([^/]+)\/(.+)$/.exec(mxc);
  expect(m).not.toBeNull();
  const res = await fetch(`${client.baseUrl}/_matrix/client/v1/media/download/${m![1]}/${m![2]}`, {
    headers: { authorization: `Bearer ${client.accessToken}` },
  });
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

/** bob uploads `bytes` with XEP-0363 over his own c2s stream; returns the GET URL. */
async function xmppUpload(bob: XmppSide, service: string, bytes: Buffer, name: string, type: string): Promise<string> {
  const answer = await bob.user.iq(
    xml(
      'iq',
      { type: 'get', to: service },
      xml('request', { xmlns: NS.HTTP_UPLOAD, filename: name, size: String(bytes.length), 'content-type': type }),
    ),
  );
  const slot = answer.getChild('slot', NS.HTTP_UPLOAD)!;
  const put = slot.getChild('put')!;
  const headers: Record<string, string> = { 'content-type': type };
  for (const h of put.getChildren('header')) headers[String(h.attrs.name)] = h.getText();
  const res = await fetch(String(put.attrs.url), { method: 'PUT', headers, body: bytes });
  expect([200, 201]).toContain(res.status);
  return String(slot.getChild('get')!.attrs.url);
}

function oobUrl(el: XmlElement): string | undefined {
  return el.getChild('x', NS.OOB)?.getChildText('url') ?? undefined;
}

describe('attachments both ways: Matrix (A, hub) and XMPP (B, follower) through MIMI', () => {
  let env: HeadlineEnv | undefined;
  let alice: MatrixSide;
  let bob: XmppSide;

  beforeAll(async () => {
    env = await HeadlineEnv.create({ xmppAccounts: [BOB] });
    const aliceClient = await env.registerMatrixUser('alice');
    const bobUser = await env.connectXmpp(BOB);
    const linked = await env.linkMatrixRoom(aliceClient, 'Media room');
    const mirrorMuc = await env.inviteXmppUser(aliceClient, linked.roomId, linked.roomUri, bobUser.jid);
    alice = new MatrixSide(aliceClient, linked.roomId);
    bob = new XmppSide(bobUser, mirrorMuc, BOB_NICK);
    await bob.join();
    await env.epochsSettled(linked.roomUri);
  }, SETUP_TIMEOUT_MS);

  afterAll(() => env?.dispose(), 120_000);

  const scenario = envScenario(() => env);

  it(
    "an image alice posts on Matrix is an upload-service URL in bob's client, and GET gives the same bytes",
    scenario(async (e) => {
      const bytes = pngBytes(50_000);
      const name = `from-matrix-${RUN}.png`;
      const since = bob.mark();
      await postMatrixFile(alice, bytes, { name, mimetype: 'image/png', msgtype: 'm.image' });
      const seen = await bob.sees((el) => oobUrl(el) !== undefined, 'the image with an OOB URL', since);
      const url = oobUrl(seen)!;
      expect(url.startsWith(e.prosody.httpUpload.downloadUrlPrefix)).toBe(true);
      expect(seen.getChildText('body')).toContain(url);
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^image\/png/);
      const got = Buffer.from(await res.arrayBuffer());
      expect(got.length).toBe(bytes.length);
      expect(sha256(got)).toBe(sha256(bytes));
    }),
    STEP_TIMEOUT_MS,
  );

  it(
    'an image bob uploads with XEP-0363 and posts with OOB is an m.image alice downloads with the same bytes',
    scenario(async (e) => {
      const bytes = pngBytes(70_000);
      const name = `from-xmpp-${RUN}.png`;
      const url = await xmppUpload(bob, e.prosody.httpUpload.service, bytes, name, 'image/png');
      await bob.user.say(bob.muc, url, [xml('x', { xmlns: NS.OOB }, xml('url', {}, url))]);
      const ghost = e.ghostOfXmppUser(bob.jid);
      const image = await alice.sees(
        (ev: ClientEvent) => ev.sender === ghost && ev.type === 'm.room.message' && ev.content['msgtype'] === 'm.image',
      );
      const mxc = String(image.content['url']);
      expect(mxc.startsWith('mxc://')).toBe(true);
      expect(image.content['info']).toMatchObject({ mimetype: 'image/png', size: bytes.length });
      const got = await downloadMxc(alice.client, mxc);
      expect(sha256(got)).toBe(sha256(bytes));
    }),
    STEP_TIMEOUT_MS,
  );

  it(
    'a file of a type not allowed and one over the size limit arrive as a text line saying why, without a file',
    scenario(async () => {
      const exe = `tool-${RUN}.exe`;
      let since = bob.mark();
      await postMatrixFile(alice, randomBytes(2048), {
        name: exe,
        mimetype: 'application/x-msdownload',
        msgtype: 'm.file',
      });
      const refused = await bob.sees((el) => (el.getChildText('body') ?? '').includes(exe), 'the refused file', since);
      expect(refused.getChildText('body')).toMatch(
        /not transferred: the type application\/x-msdownload is not allowed/,
      );
      expect(oobUrl(refused)).toBeUndefined();

      const big = `big-${RUN}.png`;
      since = bob.mark();
      await postMatrixFile(alice, pngBytes(OVERSIZE_BYTES), { name: big, mimetype: 'image/png', msgtype: 'm.image' });
      const tooBig = await bob.sees((el) => (el.getChildText('body') ?? '').includes(big), 'the oversized file', since);
      expect(tooBig.getChildText('body')).toMatch(
        /\(10 MB, image\/png\) not transferred: larger than the limit of 10 MB/,
      );
      expect(oobUrl(tooBig)).toBeUndefined();
    }),
    STEP_TIMEOUT_MS,
  );
});
