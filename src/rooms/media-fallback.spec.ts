import type { Attachment, MessageAction } from '../ports';
import { formatBytes, mapAttachments, notTransferredText } from './media-fallback';

const PNG: Attachment = { url: 'https://a/1', contentType: 'image/png', size: 1536, filename: 'cat.png' };
const PDF: Attachment = { url: 'https://a/2', contentType: 'application/pdf', filename: 'doc.pdf' };

describe('mapAttachments', () => {
  it('replaces each attachment by what the function returns, in order', async () => {
    const action: MessageAction = { type: 'post', body: { kind: 'text', text: 'look', attachments: [PNG, PDF] } };
    const out = await mapAttachments(action, async (a) => ({ attachment: { ...a, url: `${a.url}-local` } }));
    expect(out).toEqual({
      type: 'post',
      body: {
        kind: 'text',
        text: 'look',
        attachments: [
          { ...PNG, url: 'https://a/1-local' },
          { ...PDF, url: 'https://a/2-local' },
        ],
      },
    });
  });

  it('turns a file not transferred into a line naming it, its size and type, and why; the text stays', async () => {
    const action: MessageAction = {
      type: 'post',
      body: { kind: 'text', text: 'see', markdown: '**see**', attachments: [PNG, PDF] },
      inReplyTo: { platformEventId: '$x' },
    };
    const out = await mapAttachments(action, async (a) =>
      a === PNG ? { notTransferred: 'too large' } : { attachment: a },
    );
    expect(out).toEqual({
      type: 'post',
      body: {
        kind: 'text',
        text: 'see\n📎 cat.png (1.5 KB, image/png) not transferred: too large',
        markdown: '**see**\n📎 cat.png (1.5 KB, image/png) not transferred: too large',
        attachments: [PDF],
      },
      inReplyTo: { platformEventId: '$x' },
    });
  });

  it('does not repeat the file name when it was the whole text, and leaves no attachments key', async () => {
    const action: MessageAction = { type: 'post', body: { kind: 'text', text: 'cat.png', attachments: [PNG] } };
    const out = await mapAttachments(action, async () => ({ notTransferred: 'no' }));
    expect(out).toEqual({
      type: 'post',
      body: { kind: 'text', text: '📎 cat.png (1.5 KB, image/png) not transferred: no' },
    });
  });

  it('leaves actions without attachments as they are, without calling the function', async () => {
    const f = jest.fn();
    const text: MessageAction = { type: 'post', body: { kind: 'text', text: 'hi' } };
    const react: MessageAction = { type: 'react', target: { platformEventId: '$1' }, key: '👍' };
    expect(await mapAttachments(text, f)).toBe(text);
    expect(await mapAttachments(react, f)).toBe(react);
    expect(f).not.toHaveBeenCalled();
  });
});

describe('notTransferredText and formatBytes', () => {
  it('names an unnamed file of unknown size by its type only', () => {
    expect(notTransferredText({ url: 'u', contentType: 'image/gif' }, 'why')).toBe(
      '📎 attachment (image/gif) not transferred: why',
    );
  });

  it('writes sizes in binary multiples', () => {
    expect(formatBytes(0)).toBe('0 bytes');
    expect(formatBytes(1023)).toBe('1023 bytes');
    expect(formatBytes(1024)).toBe('1.0 KB');
    expect(formatBytes(10 * 1024 * 1024)).toBe('10 MB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.0 GB');
  });
});
