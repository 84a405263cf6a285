import { ErrorCode } from '../../../src/common/errors';
import { NS } from '../protocol/namespaces';
import { type XmlElement, xml } from '../protocol/xml';
import { XmppHttpUpload } from './http-upload';

const PREFIX = 'http://127.0.0.1:5280/file_share/';
const SERVICE = 'upload.localhost';

function slot(put: string, get: string, headers: Record<string, string>): XmlElement {
  return xml(
    'iq',
    { type: 'result' },
    xml(
      'slot',
      { xmlns: NS.HTTP_UPLOAD },
      xml(
        'put',
        { url: put },
        Object.entries(headers).map(([name, value]) => xml('header', { name }, value)),
      ),
      xml('get', { url: get }),
    ),
  );
}

describe('XmppHttpUpload', () => {
  it('requests a slot as the puppet, PUTs with the allowed slot headers only, and returns the GET URL', async () => {
    const asked: XmlElement[] = [];
    const puts: { url: string; init?: RequestInit }[] = [];
    const upload = new XmppHttpUpload(
      async (el) => {
        asked.push(el);
        return slot(`${PREFIX}s1/a.png`, `${PREFIX}s1/a.png`, { Authorization: 'Bearer x', 'X-Evil': 'no' });
      },
      {
        service: SERVICE,
        downloadUrlPrefix: PREFIX,
        fetch: (async (url: string, init?: RequestInit) => {
          puts.push({ url, init });
          return new Response(null, { status: 201 });
        }) as unknown as typeof fetch,
      },
    );
    const url = await upload.upload('p@mimi.localhost/mimi', {
      bytes: new Uint8Array([1, 2]),
      contentType: 'image/png',
      filename: 'a.png',
    });
    expect(url).toBe(`${PREFIX}s1/a.png`);
    expect(asked[0]!.attrs).toMatchObject({ type: 'get', to: SERVICE, from: 'p@mimi.localhost/mimi' });
    expect(asked[0]!.getChild('request', NS.HTTP_UPLOAD)!.attrs).toMatchObject({
      filename: 'a.png',
      size: '2',
      'content-type': 'image/png',
    });
    expect(puts[0]!.init).toMatchObject({
      method: 'PUT',
      headers: { 'content-type': 'image/png', Authorization: 'Bearer x' },
    });
    expect((puts[0]!.init!.headers as Record<string, string>)['X-Evil']).toBeUndefined();
  });

  it('fails on a slot without URLs and on a refused PUT', async () => {
    const noSlot = new XmppHttpUpload(async () => xml('iq', { type: 'result' }), {
      service: SERVICE,
      downloadUrlPrefix: PREFIX,
    });
    await expect(
      noSlot.upload(undefined, { bytes: new Uint8Array(1), contentType: 'image/png', filename: 'a' }),
    ).rejects.toMatchObject({ code: ErrorCode.PlatformRejected });
    const tooBig = new XmppHttpUpload(async () => slot(`${PREFIX}p`, `${PREFIX}g`, {}), {
      service: SERVICE,
      downloadUrlPrefix: PREFIX,
      fetch: (async () => new Response(null, { status: 413 })) as unknown as typeof fetch,
    });
    await expect(
      tooBig.upload(undefined, { bytes: new Uint8Array(1), contentType: 'image/png', filename: 'a' }),
    ).rejects.toMatchObject({ code: ErrorCode.PayloadTooLarge });
  });

  it('downloads only URLs of its own upload service, within maxBytes', async () => {
    const fetched: string[] = [];
    const upload = new XmppHttpUpload(async () => xml('iq'), {
      service: SERVICE,
      downloadUrlPrefix: PREFIX,
      fetch: (async (url: string) => {
        fetched.push(url);
        return new Response(new Uint8Array([5, 6, 7]), { headers: { 'content-type': 'image/jpeg' } });
      }) as unknown as typeof fetch,
    });
    expect(await upload.download(`${PREFIX}s/x.jpg`, 3)).toEqual({
      bytes: new Uint8Array([5, 6, 7]),
      contentType: 'image/jpeg',
    });
    for (const url of [
      'https://evil.example/x',
      'http://127.0.0.1:5280/other/x',
      'http://u:p@127.0.0.1:5280/file_share/x',
    ]) {
      expect(upload.isOwnUrl(url)).toBe(false);
      await expect(upload.download(url, 100)).rejects.toMatchObject({ code: ErrorCode.PlatformRejected });
    }
    await expect(upload.download(`${PREFIX}s/x.jpg`, 2)).rejects.toMatchObject({ code: ErrorCode.PayloadTooLarge });
    expect(fetched).toEqual([`${PREFIX}s/x.jpg`, `${PREFIX}s/x.jpg`]);
  });
});
