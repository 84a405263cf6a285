import { ErrorCode } from '../../../src/common/errors';
import { MatrixMedia } from './matrix-media';

const HS = 'https://hs.test';
const OWN = `${HS}/_matrix/client/v1/media/download/hs.test/abc`;

function fakeFetch(res: () => Response) {
  const calls: { url: string; init?: RequestInit }[] = [];
  const fn = (async (url: string, init?: RequestInit) => {
    calls.push({ url, init });
    return res();
  }) as unknown as typeof fetch;
  return { calls, fn };
}

describe('MatrixMedia', () => {
  it('downloads media of its own homeserver with the appservice token', async () => {
    const f = fakeFetch(() => new Response(new Uint8Array([1, 2, 3]), { headers: { 'content-type': 'image/png' } }));
    const media = new MatrixMedia({ homeserverUrl: HS, asToken: 'as-token', fetch: f.fn });
    expect(await media.download(OWN, 10)).toEqual({ bytes: new Uint8Array([1, 2, 3]), contentType: 'image/png' });
    expect(f.calls[0]).toMatchObject({
      url: OWN,
      init: { headers: { authorization: 'Bearer as-token' }, redirect: 'error' },
    });
  });

  it('never fetches another URL, and refuses more than maxBytes', async () => {
    const f = fakeFetch(() => new Response(new Uint8Array(11)));
    const media = new MatrixMedia({ homeserverUrl: HS, asToken: 't', fetch: f.fn });
    for (const url of ['https://evil.example/x.png', `${HS}/_matrix/media/v3/download/hs.test/abc`, `${OWN}/../x`]) {
      await expect(media.download(url, 100)).rejects.toMatchObject({ code: ErrorCode.PlatformRejected });
    }
    expect(f.calls).toHaveLength(0);
    await expect(media.download(OWN, 10)).rejects.toMatchObject({ code: ErrorCode.PayloadTooLarge });
  });

  it('uploads as the ghost (user_id) and returns the download URL of the new mxc', async () => {
    const f = fakeFetch(() => Response.json({ content_uri: 'mxc://hs.test/NEW' }));
    const media = new MatrixMedia({ homeserverUrl: HS, asToken: 't', fetch: f.fn });
    const url = await media.upload('@_mimi_x:hs.test', {
      bytes: new Uint8Array([7]),
      contentType: 'image/gif',
      filename: 'a b.gif',
    });
    expect(url).toBe(`${HS}/_matrix/client/v1/media/download/hs.test/NEW`);
    expect(f.calls[0]!.url).toBe(`${HS}/_matrix/media/v3/upload?filename=a+b.gif&user_id=%40_mimi_x%3Ahs.test`);
    expect(f.calls[0]!.init).toMatchObject({ method: 'POST', headers: { 'content-type': 'image/gif' } });
  });

  it('reports a refused upload with the status and the homeserver error', async () => {
    const f = fakeFetch(() => Response.json({ errcode: 'M_TOO_LARGE', error: 'too big' }, { status: 413 }));
    const media = new MatrixMedia({ homeserverUrl: HS, asToken: 't', fetch: f.fn });
    await expect(
      media.upload('@g:hs.test', { bytes: new Uint8Array(1), contentType: 'image/png', filename: 'x' }),
    ).rejects.toMatchObject({ statusCode: 413, message: 'media upload answered 413: too big' });
  });
});
