/** Answers to the IQ requests the bridge's entities receive: XEP-0199 ping, XEP-0030 disco#info. */
import { NS } from '../protocol/namespaces';
import { xml, type XmlElement } from '../protocol/xml';

/**
 * The answer to an IQ get/set addressed to the component, the bot or a puppet (see
 * TransportHandlers.iqRequest): `true` for a ping, our identity and features for disco#info,
 * undefined (service-unavailable) for anything else.
 */
export function answerIqRequest(el: XmlElement, category: 'gateway' | 'client'): XmlElement | true | undefined {
  const child = el.getChildElements()[0];
  if (!child) return undefined;
  if (el.attrs.type === 'get' && child.is('ping', NS.PING)) return true; // XEP-0199 §4.2
  if (el.attrs.type === 'get' && child.is('query', NS.DISCO_INFO)) {
    // XEP-0030: the component, the bot and the puppets are automated clients.
    return xml(
      'query',
      { xmlns: NS.DISCO_INFO },
      xml('identity', { category, type: 'bot', name: 'MIMI gateway' }),
      [NS.DISCO_INFO, NS.PING, NS.CORRECT, NS.RETRACT, NS.REACTIONS, NS.REPLY, NS.OOB, NS.SID].map((v) =>
        xml('feature', { var: v }),
      ),
    );
  }
  return undefined;
}
