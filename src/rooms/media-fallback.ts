/**
 * Attachments of a message action, rewritten one by one (pure): the sender's gateway replaces
 * each URL with the asset URL it serves, the receiving gateway with the URL of its own upload, or
 * drops the file and says so in the text (docs/EXTENSIONS.md "Attachments through the hub").
 */
import type { Attachment, MessageAction, MessageBody } from '../ports';

/** What became of one attachment: a new attachment, or a reason it was not transferred. */
export type AttachmentOutcome = { readonly attachment: Attachment } | { readonly notTransferred: string };

/** The body of a post or edit (the only actions that carry attachments), else undefined. */
function bodyOf(action: MessageAction): MessageBody | undefined {
  return action.type === 'post' || action.type === 'edit' ? action.body : undefined;
}

/** `action` with each attachment replaced by `f`'s outcome; a file not transferred becomes a line of text. */
export async function mapAttachments(
  action: MessageAction,
  f: (a: Attachment) => Promise<AttachmentOutcome>,
): Promise<MessageAction> {
  const body = bodyOf(action);
  if (body?.attachments === undefined || body.attachments.length === 0) return action;
  const kept: Attachment[] = [];
  const notes: string[] = [];
  for (const a of body.attachments) {
    const outcome = await f(a);
    if ('attachment' in outcome) kept.push(outcome.attachment);
    else notes.push(notTransferredText(a, outcome.notTransferred));
  }
  const { attachments: _old, ...rest } = body;
  const withNotes = (text: string): string => [text, ...notes].filter((t) => t !== '').join('\n');
  const next: MessageBody = {
    ...rest,
    text: withNotes(
      kept.length === 0 && notes.length > 0 && body.text === body.attachments[0]?.filename ? '' : body.text,
    ),
    ...(body.markdown !== undefined ? { markdown: withNotes(body.markdown) } : {}),
    ...(kept.length > 0 ? { attachments: kept } : {}),
  };
  return { ...action, body: next } as MessageAction;
}

/** `📎 photo.png (1.2 MB, image/png) not transferred: <reason>`. */
export function notTransferredText(a: Attachment, reason: string): string {
  const facts = [a.size !== undefined ? formatBytes(a.size) : undefined, a.contentType].filter((x) => x !== undefined);
  return `📎 ${a.filename ?? 'attachment'} (${facts.join(', ')}) not transferred: ${reason}`;
}

/** 1536 → "1.5 KB" (binary multiples, one decimal below 10). */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KB', 'MB', 'GB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) return `${n} bytes`;
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}
