/** RFC 6120 §8.3 stanza errors: building error replies and reading errors. */
import { NS } from '../namespaces';
import { xml, type XmlElement } from '../xml';
import { text } from './values';

/** An RFC 6120 §8.3 error element: `<error type><condition xmlns=stanzas/><text/></error>`. */
export function buildErrorElement(type: StanzaErrorType, condition: string, message?: string): XmlElement {
  return xml(
    'error',
    { type },
    xml(condition, { xmlns: NS.STANZAS }),
    message !== undefined ? xml('text', { xmlns: NS.STANZAS }, text(message)) : undefined,
  );
}

/**
 * The error reply to a stanza (RFC 6120 §8.3.1): addresses swapped, same id, type error. Never
 * sent for groupchat messages or MUC presence: a MUC removes an occupant that bounces errors.
 */
export function buildErrorReply(
  request: XmlElement,
  type: StanzaErrorType,
  condition: string,
  message?: string,
): XmlElement {
  return xml(
    request.name,
    { from: request.attrs.to, to: request.attrs.from, type: 'error', id: request.attrs.id },
    buildErrorElement(type, condition, message),
  );
}

// ---------------------------------------------------------------------------------------------
// Parsing

export type StanzaErrorType = 'auth' | 'cancel' | 'continue' | 'modify' | 'wait';

export interface StanzaErrorInfo {
  readonly type: string;
  readonly condition: string;
  readonly text?: string;
}

/** The RFC 6120 §8.3 error carried by a stanza of type error, or undefined. */
export function parseStanzaError(el: XmlElement): StanzaErrorInfo | undefined {
  if (el.attrs.type !== 'error') return undefined;
  const err = el.getChild('error');
  if (!err) return { type: 'cancel', condition: 'undefined-condition' };
  const condition = err.getChildElements().find((c) => c.attrs.xmlns === NS.STANZAS && c.name !== 'text');
  const message = err.getChildText('text', NS.STANZAS);
  return {
    type: err.attrs.type ?? 'cancel',
    condition: condition?.name ?? 'undefined-condition',
    text: message ?? undefined,
  };
}
