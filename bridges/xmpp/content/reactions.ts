/**
 * XEP-0444 sends the *full* set of a sender's reactions to a message each time; the port has one
 * event per added reaction (`react`) and one per removal (`unreact`, naming the reaction event).
 * These two ledgers translate between the two models. They are plain data (persisted by the
 * bridge) and bounded: the oldest (sender, message) pairs are forgotten first.
 */

/** Most (sender, message) pairs remembered per room. */
export const MAX_REACTION_KEYS = 2000;

export type ReactionChange =
  | { readonly type: 'react'; readonly key: string; readonly eventId: string }
  | { readonly type: 'unreact'; readonly key: string; readonly reactionEventId: string };

/** Serialised form: `${sender}\n${target}` → emoji → reaction event id. */
export type ReactionLedgerData = Record<string, Record<string, string>>;

function ledgerKey(sender: string, target: string): string {
  return `${sender}\n${target}`;
}

function bound(data: ReactionLedgerData): void {
  const keys = Object.keys(data);
  for (let i = 0; i < keys.length - MAX_REACTION_KEYS; i++) delete data[keys[i]!];
}

/**
 * Inbound: what each sender has on each message. `apply` turns a new full set into changes;
 * added reactions get event ids `${stanzaEventId}#${n}`, so a replayed stanza yields the same ids.
 */
export class InboundReactionLedger {
  constructor(readonly data: ReactionLedgerData = {}) {}

  apply(sender: string, target: string, emojis: readonly string[], stanzaEventId: string): ReactionChange[] {
    const key = ledgerKey(sender, target);
    const current = this.data[key] ?? {};
    const next: Record<string, string> = {};
    const changes: ReactionChange[] = [];
    for (const [emoji, eventId] of Object.entries(current)) {
      if (emojis.includes(emoji)) next[emoji] = eventId;
      else changes.push({ type: 'unreact', key: emoji, reactionEventId: eventId });
    }
    emojis.forEach((emoji, n) => {
      if (next[emoji] !== undefined) return;
      const eventId = `${stanzaEventId}#${n}`;
      next[emoji] = eventId;
      changes.push({ type: 'react', key: emoji, eventId });
    });
    delete this.data[key];
    if (Object.keys(next).length > 0) this.data[key] = next;
    bound(this.data);
    return changes;
  }
}

/**
 * Outbound: reactions the bridge has sent for each actor (a puppet; in relay mode every MIMI user
 * shares the relay account, so the set sent is the union over actors).
 */
export class OutboundReactionLedger {
  constructor(readonly data: ReactionLedgerData = {}) {}

  /** The set to send when `actor` adds `emoji` to `target` (`union`: over all actors). */
  setAfterAdd(actor: string, target: string, emoji: string, union: boolean): string[] {
    const mine = Object.keys(this.data[ledgerKey(actor, target)] ?? {});
    const base = union ? this.unionFor(target) : mine;
    return base.includes(emoji) ? base : [...base, emoji];
  }

  /** Record that the reaction event `eventId` (the accepted post) added `emoji`. */
  recordAdd(actor: string, target: string, emoji: string, eventId: string): void {
    const key = ledgerKey(actor, target);
    const entry = this.data[key] ?? {};
    entry[emoji] = eventId;
    delete this.data[key];
    this.data[key] = entry;
    bound(this.data);
  }

  /** Find the reaction event `eventId`; undefined when unknown (then nothing is sent). */
  find(eventId: string): { actor: string; target: string; emoji: string } | undefined {
    for (const [key, entry] of Object.entries(this.data)) {
      for (const [emoji, id] of Object.entries(entry)) {
        if (id !== eventId) continue;
        const nl = key.indexOf('\n');
        return { actor: key.slice(0, nl), target: key.slice(nl + 1), emoji };
      }
    }
    return undefined;
  }

  /** The set to send once `emoji` of `actor` on `target` is removed. */
  setAfterRemove(actor: string, target: string, emoji: string, union: boolean): string[] {
    const key = ledgerKey(actor, target);
    const others = union
      ? Object.entries(this.data)
          .filter(([k]) => k !== key && k.endsWith(`\n${target}`))
          .flatMap(([, e]) => Object.keys(e))
      : [];
    const mine = Object.keys(this.data[key] ?? {}).filter((e) => e !== emoji);
    return [...new Set([...mine, ...others])];
  }

  recordRemove(actor: string, target: string, emoji: string): void {
    const key = ledgerKey(actor, target);
    const entry = this.data[key];
    if (!entry) return;
    delete entry[emoji];
    if (Object.keys(entry).length === 0) delete this.data[key];
  }

  private unionFor(target: string): string[] {
    const all = Object.entries(this.data)
      .filter(([k]) => k.endsWith(`\n${target}`))
      .flatMap(([, e]) => Object.keys(e));
    return [...new Set(all)];
  }
}
