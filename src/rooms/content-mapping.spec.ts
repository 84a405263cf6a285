import {
  Cardinality,
  Disposition,
  type NestedPart,
  PartSemantics,
  buildMessageStatus,
  buildTextMessage,
  fromHex,
  messageStatusOf,
  MEDIA_TYPE_MARKDOWN_GFM_MIMI,
  MEDIA_TYPE_TEXT_PLAIN,
  decodeMimiContent,
  encodeMimiContentWithId,
  getExternalMessageId,
  getSenderUri,
  toHex,
} from '../mimi/content';
import type { MessageAction } from '../ports';
import {
  type ContentContext,
  actionForContent,
  contentForAction,
  contentKind,
  contentToJson,
  senderProfileOf,
} from './content-mapping';

const SENDER = 'mimi://a.example/u/memory:alice';
const ROOM = 'mimi://a.example/r/club';
const DOMAIN = 'a.example';
const ORIGINAL_EVENT = '$original';
const REACTION_EVENT = '$reaction';
const UNKNOWN_EVENT = '$never-seen';
const HELLO = 'hello';
const MARKDOWN = '**hello**';

/** Two known legacy events with message IDs; the follower side maps them to its own event IDs. */
const ORIGINAL_ID = `01${'aa'.repeat(31)}`;
const REACTION_ID = `01${'bb'.repeat(31)}`;
const KNOWN: Record<string, string> = { [ORIGINAL_EVENT]: ORIGINAL_ID, [REACTION_EVENT]: REACTION_ID };
const RENDERED: Record<string, string> = { [ORIGINAL_ID]: '$b-original', [REACTION_ID]: '$b-reaction' };

const ctx: ContentContext = {
  senderUri: SENDER,
  roomUri: ROOM,
  platformEventId: '$this-event',
  scopeDomain: DOMAIN,
  timestamp: 1_700_000_000_123,
  messageIdOf: async (pe) => KNOWN[pe],
};
const renderedIdOf = async (id: string): Promise<string | undefined> => RENDERED[id];

const ACTIONS: readonly { name: string; action: MessageAction; kind: string; rendered: MessageAction }[] = [
  {
    name: 'post',
    action: { type: 'post', body: { kind: 'text', text: HELLO } },
    kind: 'text',
    rendered: { type: 'post', body: { kind: 'text', text: HELLO } },
  },
  {
    name: 'reply',
    action: { type: 'post', body: { kind: 'text', text: HELLO }, inReplyTo: { platformEventId: ORIGINAL_EVENT } },
    kind: 'reply',
    rendered: { type: 'post', body: { kind: 'text', text: HELLO }, inReplyTo: { platformEventId: '$b-original' } },
  },
  {
    name: 'edit',
    action: { type: 'edit', target: { platformEventId: ORIGINAL_EVENT }, body: { kind: 'text', text: HELLO } },
    kind: 'edit',
    rendered: { type: 'edit', target: { platformEventId: '$b-original' }, body: { kind: 'text', text: HELLO } },
  },
  {
    name: 'emote (MIMI text "/me …", docs/EXTENSIONS.md)',
    action: { type: 'post', body: { kind: 'emote', text: 'waves' } },
    kind: 'text',
    rendered: { type: 'post', body: { kind: 'emote', text: 'waves' } },
  },
  {
    name: 'formatted emote',
    action: { type: 'post', body: { kind: 'emote', text: 'waves', markdown: '*waves*' } },
    kind: 'text',
    rendered: { type: 'post', body: { kind: 'emote', text: '*waves*', markdown: '*waves*' } },
  },
  {
    name: 'edit of an emote',
    action: { type: 'edit', target: { platformEventId: ORIGINAL_EVENT }, body: { kind: 'emote', text: 'nods' } },
    kind: 'edit',
    rendered: { type: 'edit', target: { platformEventId: '$b-original' }, body: { kind: 'emote', text: 'nods' } },
  },
  {
    name: 'delete',
    action: { type: 'delete', target: { platformEventId: ORIGINAL_EVENT } },
    kind: 'delete',
    rendered: { type: 'delete', target: { platformEventId: '$b-original' } },
  },
  {
    name: 'react',
    action: { type: 'react', target: { platformEventId: ORIGINAL_EVENT }, key: '👍' },
    kind: 'reaction',
    rendered: { type: 'react', target: { platformEventId: '$b-original' }, key: '👍' },
  },
  {
    name: 'unreact',
    action: { type: 'unreact', reaction: { platformEventId: REACTION_EVENT } },
    kind: 'unlike',
    rendered: { type: 'unreact', reaction: { platformEventId: '$b-reaction' } },
  },
  {
    name: 'read marker (message status report)',
    action: { type: 'read', target: { platformEventId: ORIGINAL_EVENT } },
    kind: 'status',
    rendered: { type: 'read', target: { platformEventId: '$b-original' } },
  },
];

describe('read markers as message status reports', () => {
  const READ = { type: 'read', target: { platformEventId: ORIGINAL_EVENT } } as const;

  it('sends a report marking the target message read (draft-mahy-mimi-message-status-01)', async () => {
    const content = (await contentForAction(READ, ctx))!;
    const part = content.nestedPart;
    expect(part.cardinality === Cardinality.Single && part.contentType).toBe('application/mimi-message-status');
    expect(messageStatusOf(content)).toEqual([{ messageId: fromHex(ORIGINAL_ID), status: 2 }]);
    expect(content.replaces).toBeNull();
    expect(content.inReplyTo).toBeNull();
  });

  it('sends nothing for a read of a message the room never mapped', async () => {
    expect(await contentForAction({ type: 'read', target: { platformEventId: UNKNOWN_EVENT } }, ctx)).toBeUndefined();
  });

  it('renders the last read message the legacy room knows, skipping other statuses and unknown ones', async () => {
    const content = buildMessageStatus({
      senderUri: SENDER,
      roomUri: ROOM,
      entries: [
        { messageId: fromHex(ORIGINAL_ID), status: 2 },
        { messageId: fromHex(REACTION_ID), status: 1 },
        { messageId: fromHex(`01${'cc'.repeat(31)}`), status: 2 },
      ],
    });
    expect(await actionForContent(content, renderedIdOf)).toEqual({
      type: 'read',
      target: { platformEventId: '$b-original' },
    });
  });

  it('renders nothing for a report of nothing read, or a malformed one', async () => {
    const delivered = buildMessageStatus({
      senderUri: SENDER,
      roomUri: ROOM,
      entries: [{ messageId: fromHex(ORIGINAL_ID), status: 1 }],
    });
    expect(await actionForContent(delivered, renderedIdOf)).toBeUndefined();
    const text = buildTextMessage({ senderUri: SENDER, roomUri: ROOM, text: 'x' });
    const malformed = {
      ...text,
      nestedPart: { ...text.nestedPart, contentType: 'application/mimi-message-status', content: new Uint8Array([1]) },
    } as typeof text;
    expect(contentKind(malformed)).toBe('status');
    expect(await actionForContent(malformed, renderedIdOf)).toBeUndefined();
  });
});

describe(contentForAction.name, () => {
  it.each(ACTIONS)(
    'maps a $name to MIMI content and back to the same action elsewhere',
    async ({ action, kind, rendered }) => {
      const content = await contentForAction(action, ctx);
      const { bytes } = encodeMimiContentWithId(content!, SENDER, ROOM);
      const received = decodeMimiContent(bytes);

      expect(contentKind(received)).toBe(kind);
      expect(getSenderUri(received.extensions)).toBe(SENDER);
      expect(await actionForContent(received, renderedIdOf)).toEqual(rendered);
    },
  );

  it('points references at the message IDs of the legacy events', async () => {
    const reply = await contentForAction(ACTIONS[1]!.action, ctx);
    expect(toHex(reply!.inReplyTo!)).toBe(ORIGINAL_ID);
    const unlike = await contentForAction(ACTIONS.find((a) => a.name === 'unreact')!.action, ctx);
    expect(toHex(unlike!.replaces!)).toBe(REACTION_ID);
  });

  it('carries the legacy event ID as externalMessageId and Markdown as GFM-MIMI', async () => {
    const content = await contentForAction(
      { type: 'post', body: { kind: 'text', text: HELLO, markdown: MARKDOWN } },
      ctx,
    );
    const ext = getExternalMessageId(content!.extensions);
    expect(Buffer.from(ext!.id).toString()).toBe('$this-event');
    expect(ext!.scope).toEqual({ kind: 'domain', domain: DOMAIN });
    expect(contentToJson(content!)).toMatchObject({
      kind: 'text',
      text: MARKDOWN,
      contentType: MEDIA_TYPE_MARKDOWN_GFM_MIMI,
    });
    const plain = await contentForAction(ACTIONS[0]!.action, ctx);
    expect(contentToJson(plain!)).toMatchObject({ text: HELLO, contentType: MEDIA_TYPE_TEXT_PLAIN, senderUri: SENDER });
  });

  it('sends a reply to an unknown message as a plain message, and drops edits of unknown messages', async () => {
    const reply = await contentForAction(
      { ...ACTIONS[1]!.action, inReplyTo: { platformEventId: UNKNOWN_EVENT } } as MessageAction,
      ctx,
    );
    expect(contentKind(reply!)).toBe('text');
    const edit = await contentForAction(
      { type: 'edit', target: { platformEventId: UNKNOWN_EVENT }, body: { kind: 'text', text: HELLO } },
      ctx,
    );
    expect(edit).toBeUndefined();
  });
});

describe(actionForContent.name, () => {
  it('cannot render a reaction to a message this side never showed', async () => {
    const content = await contentForAction(ACTIONS.find((a) => a.name === 'react')!.action, ctx);
    expect(await actionForContent(content!, async () => undefined)).toBeUndefined();
  });
});

describe('HTML parts (T29)', () => {
  const HTML = '<p>hi<script>alert(1)</script><img src=x onerror="alert(2)"></p>';
  const part = (contentType: string, text: string) => ({
    disposition: Disposition.Render,
    language: '',
    cardinality: Cardinality.Single as const,
    contentType,
    content: new TextEncoder().encode(text),
  });
  const withBody = (nestedPart: NestedPart) => ({
    ...buildTextMessage({ senderUri: SENDER, roomUri: ROOM, text: 'x' }),
    nestedPart,
  });
  const alternatives = (...parts: NestedPart[]): NestedPart => ({
    disposition: Disposition.Render,
    language: '',
    cardinality: Cardinality.Multi,
    partSemantics: PartSemantics.ChooseOne,
    parts,
  });

  it.each([
    ['text/plain', MEDIA_TYPE_TEXT_PLAIN, { kind: 'text', text: 'hi (plain)' }],
    ['Markdown', MEDIA_TYPE_MARKDOWN_GFM_MIMI, { kind: 'text', text: 'hi (plain)', markdown: 'hi (plain)' }],
  ])('renders the %s alternative of a chooseOne, not a text/html one listed first', async (_what, type, body) => {
    const content = withBody(alternatives(part('text/html', HTML), part(type, 'hi (plain)')));
    expect(await actionForContent(content, renderedIdOf)).toEqual({ type: 'post', body });
  });

  it('renders a lone text/html part as plain text, never as Markdown (no sink formats it)', async () => {
    expect(await actionForContent(withBody(part('text/html', HTML)), renderedIdOf)).toEqual({
      type: 'post',
      body: { kind: 'text', text: HTML },
    });
  });
});

describe('attachments', () => {
  const IMAGE = {
    url: 'https://media.a.example/_matrix/media/v3/download/a.example/abc',
    contentType: 'image/png',
    size: 2048,
    filename: 'cat.png',
    sha256: new Uint8Array(32).fill(7),
  };

  async function roundTrip(action: MessageAction): Promise<{ kind: string; rendered: MessageAction | undefined }> {
    const content = await contentForAction(action, ctx);
    const decoded = decodeMimiContent(encodeMimiContentWithId(content!, SENDER, ROOM).bytes);
    return { kind: contentKind(decoded), rendered: await actionForContent(decoded, renderedIdOf) };
  }

  it('carries a file as a MIMI ExternalPart and renders it back as an attachment', async () => {
    const { kind, rendered } = await roundTrip({
      type: 'post',
      body: { kind: 'text', text: IMAGE.filename, attachments: [IMAGE] },
    });
    expect(kind).toBe('text');
    expect(rendered).toEqual({ type: 'post', body: { kind: 'text', text: IMAGE.filename, attachments: [IMAGE] } });
  });

  it('keeps a caption next to the file, and the reply reference', async () => {
    const { kind, rendered } = await roundTrip({
      type: 'post',
      body: { kind: 'text', text: 'look at this', attachments: [IMAGE] },
      inReplyTo: { platformEventId: ORIGINAL_EVENT },
    });
    expect(kind).toBe('reply');
    expect(rendered).toEqual({
      type: 'post',
      body: { kind: 'text', text: 'look at this', attachments: [IMAGE] },
      inReplyTo: { platformEventId: '$b-original' },
    });
  });

  const PDF = {
    url: 'https://media.a.example/_matrix/media/v3/download/a.example/def',
    contentType: 'application/pdf',
    size: 4096,
    filename: 'report.pdf',
    description: 'the Q3 report',
  };
  const externals = (part: NestedPart): { url: string; filename: string }[] =>
    part.cardinality === Cardinality.Multi
      ? part.parts.flatMap(externals)
      : part.cardinality === Cardinality.External
        ? [{ url: part.url, filename: part.filename }]
        : [];

  it('carries every file of a post, in order, as the ExternalParts of one processAll MultiPart', async () => {
    const content = await contentForAction(
      { type: 'post', body: { kind: 'text', text: '', attachments: [IMAGE, PDF] } },
      ctx,
    );
    const body = decodeMimiContent(encodeMimiContentWithId(content!, SENDER, ROOM).bytes).nestedPart;
    expect(body).toMatchObject({ cardinality: Cardinality.Multi, partSemantics: PartSemantics.ProcessAll });
    expect(body.cardinality === Cardinality.Multi && body.parts.map((p) => p.cardinality)).toEqual([
      Cardinality.External,
      Cardinality.External,
    ]);
    expect(externals(body)).toEqual([
      { url: IMAGE.url, filename: IMAGE.filename },
      { url: PDF.url, filename: PDF.filename },
    ]);
  });

  it('renders a post of several files back with all of them, in order', async () => {
    const { kind, rendered } = await roundTrip({
      type: 'post',
      body: { kind: 'text', text: '', attachments: [PDF, IMAGE] },
    });
    expect(kind).toBe('text');
    expect(rendered).toMatchObject({ type: 'post', body: { attachments: [PDF, IMAGE] } });
  });

  it('puts the caption first, then each file, and keeps the reply reference', async () => {
    const action: MessageAction = {
      type: 'post',
      body: {
        kind: 'text',
        text: 'the photos and the report',
        attachments: [IMAGE, PDF, { ...IMAGE, url: `${IMAGE.url}2` }],
      },
      inReplyTo: { platformEventId: ORIGINAL_EVENT },
    };
    const content = await contentForAction(action, ctx);
    const body = content!.nestedPart;
    expect(body.cardinality === Cardinality.Multi && body.parts.map((p) => p.cardinality)).toEqual([
      Cardinality.Single,
      Cardinality.External,
      Cardinality.External,
      Cardinality.External,
    ]);
    const { kind, rendered } = await roundTrip(action);
    expect(kind).toBe('reply');
    expect(rendered).toEqual({
      type: 'post',
      body: {
        kind: 'text',
        text: 'the photos and the report',
        attachments: [IMAGE, PDF, { ...IMAGE, url: `${IMAGE.url}2` }],
      },
      inReplyTo: { platformEventId: '$b-original' },
    });
  });

  it('keeps the files of an edit (a new caption for an image must not make the image go away)', async () => {
    const edit: MessageAction = {
      type: 'edit',
      target: { platformEventId: ORIGINAL_EVENT },
      body: { kind: 'text', text: 'a better caption', attachments: [IMAGE, PDF] },
    };
    const content = await contentForAction(edit, ctx);
    expect(toHex(content!.replaces!)).toBe(ORIGINAL_ID);
    expect(externals(content!.nestedPart)).toHaveLength(2);
    const { kind, rendered } = await roundTrip(edit);
    expect(kind).toBe('edit');
    expect(rendered).toEqual({
      type: 'edit',
      target: { platformEventId: '$b-original' },
      body: { kind: 'text', text: 'a better caption', attachments: [IMAGE, PDF] },
    });
    const { rendered: one } = await roundTrip({
      ...edit,
      body: { kind: 'text', text: 'cat.png', attachments: [IMAGE] },
    });
    expect(one).toEqual({
      type: 'edit',
      target: { platformEventId: '$b-original' },
      body: { kind: 'text', text: 'cat.png', attachments: [IMAGE] },
    });
  });

  it('sends no caption when the text is only the names of the files', async () => {
    const content = await contentForAction(
      { type: 'post', body: { kind: 'text', text: 'cat.png\nreport.pdf', attachments: [IMAGE, PDF] } },
      ctx,
    );
    const body = content!.nestedPart;
    expect(body.cardinality === Cardinality.Multi && body.parts.length).toBe(2);
    expect(externals(body)).toHaveLength(2);
  });
});

describe('emotes (docs/EXTENSIONS.md)', () => {
  it('a MIMI text that starts with "/me " is an emote; "/me" alone or "/mean" is not', async () => {
    const text = async (t: string) =>
      actionForContent((await contentForAction({ type: 'post', body: { kind: 'text', text: t } }, ctx))!, renderedIdOf);
    expect(await text('/me waves')).toEqual({ type: 'post', body: { kind: 'emote', text: 'waves' } });
    expect(await text('/me ')).toEqual({ type: 'post', body: { kind: 'text', text: '/me ' } });
    expect(await text('/meaning')).toEqual({ type: 'post', body: { kind: 'text', text: '/meaning' } });
  });

  it('an emote is sent as "/me " + its text, so a peer without the mapping shows it readably', async () => {
    const content = await contentForAction({ type: 'post', body: { kind: 'emote', text: 'waves' } }, ctx);
    expect(contentToJson(content!)).toMatchObject({ text: '/me waves', contentType: MEDIA_TYPE_TEXT_PLAIN });
  });
});

describe('the sender profile (docs/EXTENSIONS.md)', () => {
  it('a legacy sender’s name and avatar ride on the message and are read back by the receiver', async () => {
    const post: MessageAction = { type: 'post', body: { kind: 'text', text: HELLO } };
    const profile = { displayName: 'Alice Liddell', avatarUrl: 'https://hs.example/a.png' };
    const content = (await contentForAction(post, { ...ctx, senderProfile: profile }))!;
    const { bytes } = encodeMimiContentWithId(content, SENDER, ROOM);
    expect(senderProfileOf(decodeMimiContent(bytes))).toEqual(profile);
    expect(senderProfileOf((await contentForAction(post, ctx))!)).toBeUndefined();
  });
});
