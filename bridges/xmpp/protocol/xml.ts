/**
 * XML helpers over xmpp.js's ltx elements: the builder, a parser for tests and tooling, and the
 * text clean-up every outbound string goes through.
 */
import xmlBuilder from '@xmpp/xml';
import parseXmlString from '@xmpp/xml/lib/parse';

export type XmlElement = xmlBuilder.Element;

/** Build an element: `xml('message', { to }, xml('body', {}, text))`. Undefined attributes are dropped. */
export const xml = xmlBuilder;

/** Parse one XML element from a string (tests, fixtures). @throws Error on malformed XML. */
export function parseXml(source: string): XmlElement {
  return parseXmlString(source);
}

/**
 * Characters XML 1.0 cannot carry (§2.2 Char: NUL and most C0 controls, lone surrogates, U+FFFE/U+FFFF).
 * One of them in a stanza makes the server close the whole stream as not-well-formed, so they are
 * replaced by U+FFFD before anything is serialised.
 */
const NOT_XML_CHAR =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

export function xmlSafeText(text: string): string {
  return text.replace(NOT_XML_CHAR, '\uFFFD');
}

/** Bytes the element takes on the wire (UTF-8), as the server counts them against its stanza size limit. */
export function stanzaBytes(el: XmlElement): number {
  return Buffer.byteLength(el.toString(), 'utf8');
}
