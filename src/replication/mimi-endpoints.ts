import type { MimiEndpoint } from '../ports/delivery-target.port';

/** The endpoints the outbox POSTs to: all but the GET `proxyDownload`. */
type OutboxEndpoint = Exclude<MimiEndpoint, 'proxyDownload'>;

/** Every MIMI endpoint the outbox may deliver to (protocol-06 §5); a Record so none is forgotten. */
const ENDPOINTS: Record<OutboxEndpoint, true> = {
  notify: true,
  update: true,
  submitMessage: true,
  keyMaterial: true,
  groupInfo: true,
  identifierQuery: true,
  requestConsent: true,
  updateConsent: true,
  reportAbuse: true,
};

export function isMimiEndpoint(value: string): value is OutboxEndpoint {
  return Object.prototype.hasOwnProperty.call(ENDPOINTS, value);
}
