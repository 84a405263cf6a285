/**
 * Whether an event one of the hub's ghosts sent, as its platform reports it back, can be the post
 * of a submission still `posting` (HubService.onGhostMessage). The hub recognises its posts by
 * the platform event ID it recorded when a post returned; an echo it has no record of is the post
 * of a submission only when it says the same thing: the same kind of action on the same targets,
 * with the same text. Anything else (a reaction's echo that the XMPP bridge reports as
 * `<stanza-id>#0`, a read marker, another message of the same user) must not complete the
 * submission: that would log and fan out a message its legacy room never got (RELIABILITY T48).
 * When in doubt the answer is no: the follower retries the submission, and the bridge's
 * idempotent post (same key) returns the post if it is there or makes it.
 */
import { decodeMimiContent } from '../../mimi/content';
import type { MessageAction, MessageBody, PlatformMessageRef } from '../../ports';
import { actionForContent } from '../content-mapping';

function sameRef(a: PlatformMessageRef | undefined, b: PlatformMessageRef | undefined): boolean {
  return a?.platformEventId === b?.platformEventId;
}

function sameBody(a: MessageBody, b: MessageBody): boolean {
  return (
    a.kind === b.kind &&
    a.text.trim() === b.text.trim() &&
    (a.attachments?.length ?? 0) === (b.attachments?.length ?? 0)
  );
}

/** True when `echo` may be the platform's report of posting `expected` (the submission's action). */
export function echoCanBe(echo: MessageAction, expected: MessageAction): boolean {
  switch (expected.type) {
    case 'post':
      return echo.type === 'post' && sameBody(echo.body, expected.body);
    case 'edit':
      return echo.type === 'edit' && sameRef(echo.target, expected.target) && sameBody(echo.body, expected.body);
    case 'delete':
      return echo.type === 'delete' && sameRef(echo.target, expected.target);
    case 'react':
      return echo.type === 'react' && echo.key === expected.key && sameRef(echo.target, expected.target);
    case 'unreact':
      return echo.type === 'unreact' && sameRef(echo.reaction, expected.reaction);
    case 'read':
      return echo.type === 'read' && sameRef(echo.target, expected.target);
  }
}

/**
 * True when `echo` may be the post of the submission whose MIMI content is `content`;
 * `platformEventIdOf` resolves the messages it refers to, as the hub's post of it did.
 */
export async function echoCanBePostOf(
  echo: MessageAction,
  content: Uint8Array,
  platformEventIdOf: (messageIdHex: string) => Promise<string | undefined>,
): Promise<boolean> {
  const expected = await actionForContent(decodeMimiContent(content), platformEventIdOf);
  return expected !== undefined && echoCanBe(echo, expected);
}
