import type { MimiEndpoint } from '../ports/delivery-target.port';

/** Every MIMI endpoint the outbox may deliver to (protocol-06 §5); a Record so none is forgotten. */
const ENDPOINTS: Record<MimiEndpoint, true> = {
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

export function isMimiEndpoint(value: string): value is MimiEndpoint {
  return Object.prototype.hasOwnProperty.call(ENDPOINTS, value);
}
