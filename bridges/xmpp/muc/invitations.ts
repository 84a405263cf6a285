/**
 * XMPP users found by address (the `UserDirectory` capability: peers' `/identifierQuery` and
 * local `!mimi invite`) and invited to MUCs (`Invitations`: a user of ours added to a MIMI room
 * that a mirror MUC shows gets an XEP-0249 direct invitation to it).
 *
 * - A handle is a JID (`bob@example.org`, a resource is ignored) or an `xmpp:` URI (RFC 5122,
 *   `xmpp:bob@example.org`, query part ignored); a nick is a local part, taken on the first of the
 *   user domains.
 * - Users of ours are those of `userDomains` (config `xmpp.userDomains`; default the parent domain
 *   of the MUC service and of the component). The component cannot ask the server whether an
 *   account exists (Prosody answers disco, vCard and PEP queries of unknown and of unsubscribed
 *   accounts alike), so a well-formed JID of a user domain counts as found; a JID of another
 *   domain, or of the bridge's own component, is not ours.
 */
import { randomUUID } from 'node:crypto';
import type { LegacyRoomRef, LegacyUserRef, UserLookup } from '../../../src/ports';
import type { XmppMode } from '../mode/xmpp-mode';
import { parseJid } from '../protocol/jids';
import { NS } from '../protocol/namespaces';
import { text } from '../protocol/stanzas/values';
import { type XmlElement, xml } from '../protocol/xml';

const LOCAL_RE = /^[^\s"&'/:<>@]{1,1023}$/;
const DOMAIN_RE = /^[a-z0-9.-]{1,253}$/;

/** The bare JID a handle names (`bob@example.org[/res]` or `xmpp:bob@example.org[?…]`), or undefined. */
export function bareJidOfHandle(value: string): string | undefined {
  let v = value.trim();
  if (/^xmpp:/i.test(v)) {
    v = v
      .slice(5)
      .replace(/^\/\/[^/]*\//, '')
      .split(/[?#]/)[0]!;
    try {
      v = decodeURIComponent(v);
    } catch {
      return undefined;
    }
  }
  const jid = parseJid(v);
  if (!v.includes('@') || !LOCAL_RE.test(jid.local) || !DOMAIN_RE.test(jid.domain)) return undefined;
  return `${jid.local}@${jid.domain}`;
}

/** The user domains by default: the parents of the MUC service and of the component domain. */
export function defaultUserDomains(mucService: string | undefined, componentDomain: string | undefined): string[] {
  const parents = [mucService, componentDomain]
    .filter((d): d is string => d !== undefined && d.includes('.'))
    .map((d) => d.slice(d.indexOf('.') + 1).toLowerCase());
  return [...new Set(parents)];
}

/** XEP-0249 §2: `<message to=user><x xmlns='jabber:x:conference' jid=room reason=…/></message>`. */
export function buildDirectInvitation(m: { from?: string; to: string; room: string; reason?: string }): XmlElement {
  return xml(
    'message',
    { from: m.from, to: m.to, id: `mimi-invite-${randomUUID()}` },
    xml('x', { xmlns: NS.CONFERENCE, jid: m.room, reason: m.reason === undefined ? undefined : text(m.reason) }),
    ...(m.reason === undefined ? [] : [xml('body', {}, text(`${m.reason}: xmpp:${m.room}?join`))]),
  );
}

export class XmppInvitations {
  private readonly userDomains: readonly string[];

  constructor(
    private readonly mode: XmppMode,
    private readonly send: (el: XmlElement) => Promise<void>,
    userDomains: readonly string[],
  ) {
    this.userDomains = userDomains.map((d) => d.toLowerCase());
  }

  lookup(search: { readonly type: 'handle' | 'nick'; readonly value: string }): Promise<UserLookup> {
    const first = this.userDomains[0];
    const jid =
      search.type === 'nick'
        ? first === undefined
          ? undefined
          : bareJidOfHandle(`${search.value}@${first}`)
        : bareJidOfHandle(search.value);
    if (jid === undefined) return Promise.resolve({ kind: 'notMine' });
    const { domain } = parseJid(jid);
    if (this.mode.isOwnUser(jid, []) || !this.userDomains.includes(domain)) return Promise.resolve({ kind: 'notMine' });
    return Promise.resolve({ kind: 'found', userId: jid });
  }

  /** An XEP-0249 direct invitation to the MUC `room`, from the bridge's bot. */
  async invite(room: LegacyRoomRef, user: LegacyUserRef, opts: { readonly reason?: string }): Promise<void> {
    await this.send(
      buildDirectInvitation({ from: this.mode.botFrom(), to: user.userId, room: room.roomId, reason: opts.reason }),
    );
  }
}
