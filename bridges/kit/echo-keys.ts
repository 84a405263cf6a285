import type { InboundEvent, PostResult } from '../../src/ports';

/**
 * Echo keys: how a bridge recognises a post of its own when the platform sends it back (the
 * Matrix transaction ID, the XMPP origin-id). They belong to the bridges, not to the port: the
 * core recognises echoes by sender and platform event ID and never reads them. A bridge's `post`
 * returns them with its result and the echo it reports carries the same keys, which the bridges'
 * own tests and the contract suite's bridge-level checks pin.
 */
interface EchoKeys {
  readonly echoKeys: readonly string[];
}

/** What a bridge's `post` resolves to: the port's result and the keys its echo will carry. */
export type EchoKeyedPostResult = PostResult & EchoKeys;

type MessageEvent = Extract<InboundEvent, { kind: 'message' }>;

/** An event as a bridge reports it: a message may carry the echo keys of the post it echoes. */
export type EchoKeyedInboundEvent = Exclude<InboundEvent, MessageEvent> | (MessageEvent & Partial<EchoKeys>);

/**
 * The echo keys a bridge put on a post result or a reported event, where the value is typed as
 * the port's (a sink, `PlatformBridge.post`); undefined when there are none.
 */
export function echoKeysOf(x: PostResult | InboundEvent): readonly string[] | undefined {
  const keys = (x as Partial<EchoKeys>).echoKeys;
  return Array.isArray(keys) ? (keys as readonly string[]) : undefined;
}
