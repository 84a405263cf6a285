/** Helpers shared by the stanza builders and parsers. */
import { NS } from '../namespaces';
import { type XmlElement, xmlSafeText } from '../xml';

/** Text as XML can carry it (one illegal character would end the stream). */
export function text(s: string): string {
  return xmlSafeText(s);
}

/** The XEP-0203 delay stamp of a stanza, in ms since the epoch. */
export function parseDelay(el: XmlElement): number | undefined {
  const stamp = el.getChild('delay', NS.DELAY)?.attrs.stamp;
  if (stamp === undefined) return undefined;
  const t = Date.parse(stamp);
  return Number.isNaN(t) ? undefined : t;
}

/** undefined for an absent or empty value. */
export function nonEmpty(s: string | undefined | null): string | undefined {
  return s === undefined || s === null || s === '' ? undefined : s;
}
