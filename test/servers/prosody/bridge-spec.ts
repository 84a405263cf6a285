/** What bridge-process.ts runs (passed as JSON in the BRIDGE_SPEC_ENV environment variable). */
export interface BridgeProcessSpec {
  readonly mode: 'component' | 'relay';
  readonly service: string;
  readonly componentDomain?: string;
  readonly jid?: string;
  readonly secret: string;
  readonly botNick: string;
  readonly links: string[];
  readonly stateFile: string;
  readonly eventsFile: string;
}

export const BRIDGE_SPEC_ENV = 'MIMI_XMPP_BRIDGE_SPEC';
