/**
 * Stanza builders and parsers of the XMPP bridge: pure functions from plain values to ltx elements
 * and back, with no connection state, so each is tested against exact XML (stanzas.spec.ts).
 * Builders clean every text and attribute with xmlSafeText (one illegal character ends the stream).
 * Parsers throw CodecError for a stanza that breaks a rule they rely on; the bridge logs it and
 * goes on with the next stanza.
 *
 *   message.ts   groupchat and private messages     presence.ts  MUC join, nick change, leave
 *   iq.ts        admin, owner, ping, disco, MAM      error.ts     RFC 6120 stanza errors
 *   moderation.ts  XEP-0425 moderator retractions
 */
export * from './error';
export * from './iq';
export * from './message';
export * from './moderation';
export * from './presence';
