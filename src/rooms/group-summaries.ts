import { type ProviderDomain, domainOf } from '../common/ids';
import type { GatewayGroup, GatewayGroupSummary } from '../mls';

/**
 * One `GatewayGroup.summary()` per group state. A summary costs O(members) (it builds the member
 * list and decodes the participant list): about 7 ms at 1,000 members, and the rooms asked for it
 * on every message (the hub for the sender's role and the fan-out targets, a follower before
 * decrypting). The group replaces its state object at every change (a commit, a proposal, a
 * joiner registered, a rotation), so a summary kept by state object is never stale; a group that
 * was removed is summarised afresh (it empties its local members without a new state).
 */
export class GroupSummaries {
  private readonly byState = new WeakMap<object, GatewayGroupSummary>();

  of(group: GatewayGroup): GatewayGroupSummary {
    if (group.removed) return group.summary();
    const state = group.coreState;
    let summary = this.byState.get(state);
    if (summary === undefined) {
      summary = group.summary();
      this.byState.set(state, summary);
    }
    return summary;
  }
}

const domainsByMembers = new WeakMap<object, { own: ProviderDomain; others: readonly ProviderDomain[] }>();

/**
 * The providers other than `own` with clients among `members`, sorted: where the hub fans out.
 * Kept per members array (a summary's, shared until the group changes): parsing 1,000 member URIs
 * took about a millisecond, on every message.
 */
export function otherDomains(members: GatewayGroupSummary['members'], own: ProviderDomain): readonly ProviderDomain[] {
  const known = domainsByMembers.get(members);
  if (known?.own === own) return known.others;
  const domains = new Set<ProviderDomain>();
  for (const m of members) {
    const d = m.user === undefined ? undefined : domainOf(m.user);
    if (d !== undefined && d !== own) domains.add(d);
  }
  const others = [...domains].sort();
  domainsByMembers.set(members, { own, others });
  return others;
}
