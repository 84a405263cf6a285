/**
 * The durable state of one bridge (e.g. the XMPP bridge's per-MUC archive cursors, puppets and
 * recent posts), kept by the core in its database (table `bridge_state`) so that one store holds
 * everything that must survive a crash. Keys and values are the bridge's own text (values: JSON).
 * The core offers it through `BridgeHost.stateStore(platform)`.
 */
export interface BridgeStateStore {
  /** Every entry the bridge saved: key → value. */
  load(): Promise<Map<string, string>>;
  /** Write `put` (insert or replace) and delete the keys of `remove`, in one transaction. */
  save(put: ReadonlyMap<string, string>, remove: readonly string[]): Promise<void>;
}
