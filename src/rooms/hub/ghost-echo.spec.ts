import type { MessageAction } from '../../ports';
import { echoCanBe } from './ghost-echo';

const post = (text: string, attachments = 0): MessageAction => ({
  type: 'post',
  body: {
    kind: 'text',
    text,
    ...(attachments > 0
      ? {
          attachments: Array.from({ length: attachments }, (_, i) => ({
            url: `https://x/${i}`,
            contentType: 'image/png',
          })),
        }
      : {}),
  },
});
const target = { platformEventId: '$target' };

describe('echoCanBe (is this ghost echo the post of that submission?)', () => {
  it('takes the echo of the same post, whatever the whitespace around its text', () => {
    expect(echoCanBe(post(' hello \n'), post('hello'))).toBe(true);
  });

  it("refuses a reaction's echo, a read marker, or another post of the same user for a post", () => {
    expect(echoCanBe({ type: 'react', target, key: '👍' }, post('hello'))).toBe(false);
    expect(echoCanBe({ type: 'read', target }, post('hello'))).toBe(false);
    expect(echoCanBe(post('hello again'), post('hello'))).toBe(false);
    expect(echoCanBe(post('hello', 1), post('hello', 2))).toBe(false);
  });

  it('matches reactions, edits, deletes and unreacts on their targets (and key, and text)', () => {
    const other = { platformEventId: '$other' };
    const react: MessageAction = { type: 'react', target, key: '👍' };
    expect(echoCanBe(react, react)).toBe(true);
    expect(echoCanBe({ type: 'react', target: other, key: '👍' }, react)).toBe(false);
    expect(echoCanBe({ type: 'react', target, key: '🎉' }, react)).toBe(false);
    const edit: MessageAction = { type: 'edit', target, body: { kind: 'text', text: 'fixed' } };
    expect(echoCanBe(edit, edit)).toBe(true);
    expect(echoCanBe({ ...edit, target: other }, edit)).toBe(false);
    expect(echoCanBe({ ...edit, body: { kind: 'text', text: 'other' } }, edit)).toBe(false);
    expect(echoCanBe(post('fixed'), edit)).toBe(false);
    expect(echoCanBe({ type: 'delete', target }, { type: 'delete', target })).toBe(true);
    expect(echoCanBe({ type: 'delete', target: other }, { type: 'delete', target })).toBe(false);
    expect(echoCanBe({ type: 'unreact', reaction: target }, { type: 'unreact', reaction: target })).toBe(true);
    expect(echoCanBe({ type: 'unreact', reaction: other }, { type: 'unreact', reaction: target })).toBe(false);
    expect(echoCanBe({ type: 'read', target }, { type: 'read', target })).toBe(true);
  });
});
