/**
 * A room's own settings: what disco#info says about it (name, archive, join rule) and the
 * XEP-0045 §10 configuration of rooms the bridge owns.
 */
import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { errorMessage } from '../../../src/common/errors';
import type { JoinRule, LegacyRoomRef, RoomPermissions } from '../../../src/ports';
import type { XmppMode } from '../mode/xmpp-mode';
import { parseJid } from '../protocol/jids';
import { joinRuleOfFeatures, permissionsOfFeatures } from '../protocol/muc-permissions';
import { NS } from '../protocol/namespaces';
import { buildDiscoInfoGet, buildOwnerConfigSubmit, moderationVersionOf, parseDiscoInfo } from '../protocol/stanzas';
import type { IqClient } from '../session/iq-client';
import type { RoomRuntime } from '../state/muc-room';

export class RoomInfo {
  private readonly logger = new Logger('XmppBridge');

  constructor(
    private readonly iq: IqClient,
    private readonly mode: XmppMode,
  ) {}

  /**
   * From the room's disco#info (XEP-0045 §6.4): `public` for an open room (`muc_open`) without a
   * password; a members-only or password-protected room, or one that does not say, is `invite`.
   */
  async joinRule(room: LegacyRoomRef): Promise<JoinRule> {
    return joinRuleOfFeatures(await this.features(room.roomId));
  }

  /** The join rule and the XEP-0045 privileges of the room (for the MIMI roles_list). */
  async rules(room: LegacyRoomRef): Promise<{ joinRule: JoinRule; permissions: RoomPermissions }> {
    const features = await this.features(room.roomId);
    return { joinRule: joinRuleOfFeatures(features), permissions: permissionsOfFeatures(features) };
  }

  private async features(jid: string): Promise<string[]> {
    const info = parseDiscoInfo(
      await this.iq.request(buildDiscoInfoGet({ from: this.mode.botFrom(), to: jid, id: randomUUID() })),
    );
    return info.features;
  }

  /** Read the room's name and whether it keeps an XEP-0313 archive (disco#info). */
  async discover(r: RoomRuntime): Promise<void> {
    try {
      const info = parseDiscoInfo(
        await this.iq.request(buildDiscoInfoGet({ from: this.mode.botFrom(), to: r.jid, id: randomUUID() })),
      );
      r.mamSupported = info.features.includes(NS.MAM);
      r.moderation = moderationVersionOf(info.features);
      r.name = info.identities.find((i) => i.category === 'conference')?.name ?? r.name;
      if (!r.mamSupported) {
        this.logger.warn(`${r.jid}: no XEP-0313 archive; messages sent while the bridge is away are lost`);
      }
    } catch (e) {
      this.logger.warn(`${r.jid}: disco#info failed: ${errorMessage(e)}`);
    }
  }

  /**
   * XEP-0045 §10.1.3 configuration of a room the bridge owns: persistent, archived, not public,
   * real JIDs for moderators; a mirror says what it mirrors. Prosody ignores fields it does not know.
   */
  async configure(r: RoomRuntime): Promise<void> {
    const mirrorOf = r.state.mirrorOf;
    await this.iq.request(
      buildOwnerConfigSubmit({
        from: this.mode.botFrom(),
        to: r.jid,
        id: randomUUID(),
        fields: {
          'muc#roomconfig_roomname': r.name ?? parseJid(r.jid).local,
          ...(mirrorOf ? { 'muc#roomconfig_roomdesc': `Mirror of the MIMI room ${mirrorOf}` } : {}),
          'muc#roomconfig_persistentroom': '1',
          'muc#roomconfig_publicroom': '0',
          'muc#roomconfig_membersonly': '0',
          'muc#roomconfig_moderatedroom': '0',
          'muc#roomconfig_changesubject': mirrorOf ? '0' : '1',
          'muc#roomconfig_whois': 'moderators',
          'muc#roomconfig_enablearchiving': '1',
        },
      }),
    );
  }
}
