/**
 * Avatars on XMPP the way MUC clients show occupants' pictures: vCard-temp (XEP-0054) with its
 * hash in presence (XEP-0153). A client asks `room@service/nick` for the vCard; the MUC passes the
 * request on to the occupant's bare JID (Prosody's mod_muc does so for vcard-temp).
 *
 * - Natives → MIMI: an occupant's MUC presence carries the SHA-1 of its photo; a message of that
 *   occupant reports the avatar as `xmpp:<bare JID>?vcard;photo=<sha1>` (bridge-internal, with the
 *   RFC 5122 `vcard` query), which the core serves like an attachment of ours: `download` fetches
 *   the vCard of that JID from its server (an IQ, never an HTTP URL) and returns the photo.
 * - MIMI → puppets: the image the core fetched through MIMI is kept per puppet (in memory: after a
 *   restart, the sender's next message sets it again), given in answer to a vCard request
 *   addressed to the puppet, and announced by its hash in the puppet's MUC presences.
 */
import { createHash } from 'node:crypto';
import { ErrorCode, PlatformError } from '../../../src/common/errors';
import type { MediaBytes } from '../../../src/ports';
import { bare } from '../protocol/jids';
import { NS } from '../protocol/namespaces';
import { type XmlElement, xml } from '../protocol/xml';
import type { IqRequest } from './http-upload';

/** A puppet's vCard photo is at most this large (base64 in one stanza; Prosody's component limit is 512 KiB). */
const MAX_PUPPET_PHOTO_BYTES = 256 * 1024;
/** How many puppets' avatars are kept (the oldest set is forgotten first). */
const MAX_PUPPET_AVATARS = 10_000;

const SHA1_HEX = /^[0-9a-f]{40}$/;

/** The avatar URL a native's message reports for the occupant with real JID `jid` and photo hash `sha1`. */
export function vcardAvatarUrl(jid: string, sha1: string): string {
  return `xmpp:${bare(jid)}?vcard;photo=${sha1}`;
}

/** The JID and photo hash of a `vcardAvatarUrl`, else undefined. */
export function parseVcardAvatarUrl(url: string): { jid: string; sha1: string } | undefined {
  const m = /^xmpp:([^/?#\s]+@[^/?#\s]+)\?vcard;photo=([0-9a-f]{40})$/.exec(url);
  return m === null ? undefined : { jid: m[1]!, sha1: m[2]! };
}

/** XEP-0153: the photo hash of a presence (`''`: no photo), undefined when it says nothing. */
export function photoHashOf(presence: XmlElement): string | undefined {
  const photo = presence.getChild('x', NS.VCARD_UPDATE)?.getChild('photo');
  if (photo === undefined) return undefined;
  const hash = photo.getText().trim().toLowerCase();
  return hash === '' || SHA1_HEX.test(hash) ? hash : undefined;
}

/** XEP-0153 §3.2: the presence element announcing a photo hash. */
export function photoUpdate(sha1: string): XmlElement {
  return xml('x', { xmlns: NS.VCARD_UPDATE }, xml('photo', {}, sha1));
}

function rejected(message: string, code = ErrorCode.PlatformRejected): PlatformError {
  return new PlatformError(code, message, { retryable: false });
}

interface PuppetAvatar extends MediaBytes {
  readonly sha1: string;
}

export class VcardAvatars {
  private readonly puppets = new Map<string, PuppetAvatar>();

  constructor(
    private readonly iq: IqRequest,
    /** `from` of our requests: the bot's full JID (component), undefined on a client stream. */
    private readonly from: () => string | undefined,
  ) {}

  /** Whether `url` is an avatar URL this bridge reported. */
  isAvatarUrl(url: string): boolean {
    return parseVcardAvatarUrl(url) !== undefined;
  }

  /**
   * The photo of the vCard of the JID `url` names, fetched now (the hash in the URL only names the
   * version seen; the current photo is returned).
   * @throws PlatformError PlatformRejected for another URL or a vCard without a photo, PayloadTooLarge
   */
  async download(url: string, maxBytes: number): Promise<MediaBytes> {
    const ref = parseVcardAvatarUrl(url);
    if (ref === undefined) throw rejected('not an XMPP avatar URL of this bridge');
    const answer = await this.iq(
      xml('iq', { type: 'get', to: ref.jid, from: this.from() }, xml('vCard', { xmlns: NS.VCARD })),
    );
    const photo = answer.getChild('vCard', NS.VCARD)?.getChild('PHOTO');
    const binval = photo?.getChildText('BINVAL')?.replace(/\s+/g, '');
    if (!binval) throw rejected(`the vCard of ${ref.jid} has no photo`, ErrorCode.NotFound);
    if ((binval.length * 3) / 4 > maxBytes + 2) {
      throw rejected(`larger than the limit of ${maxBytes} bytes`, ErrorCode.PayloadTooLarge);
    }
    const bytes = new Uint8Array(Buffer.from(binval, 'base64'));
    if (bytes.length > maxBytes) {
      throw rejected(`larger than the limit of ${maxBytes} bytes`, ErrorCode.PayloadTooLarge);
    }
    const type = photo?.getChildText('TYPE')?.trim().toLowerCase();
    return { bytes, contentType: type || 'application/octet-stream' };
  }

  /**
   * Keep `image` as the avatar of the puppet with bare JID `puppetJid`; returns its SHA-1 (for the
   * presence hash), or undefined when it is too large for a vCard (then the puppet has none).
   */
  setPuppetAvatar(puppetJid: string, image: MediaBytes): string | undefined {
    const key = bare(puppetJid);
    this.puppets.delete(key);
    if (image.bytes.length > MAX_PUPPET_PHOTO_BYTES) return undefined;
    const sha1 = createHash('sha1').update(image.bytes).digest('hex');
    this.puppets.set(key, { ...image, sha1 });
    if (this.puppets.size > MAX_PUPPET_AVATARS) this.puppets.delete(this.puppets.keys().next().value as string);
    return sha1;
  }

  /** The photo hash of a puppet's avatar, when it has one. */
  photoOf(puppetJid: string): string | undefined {
    return this.puppets.get(bare(puppetJid))?.sha1;
  }

  /**
   * The answer to an IQ request when it is a vCard get addressed to one of our puppets
   * (`isPuppet`): its vCard, with the photo when it has one; undefined for anything else.
   */
  answer(el: XmlElement, isPuppet: (jid: string) => boolean): XmlElement | undefined {
    const to = el.attrs.to ?? '';
    if (el.attrs.type !== 'get' || el.getChild('vCard', NS.VCARD) === undefined || !isPuppet(to)) return undefined;
    const avatar = this.puppets.get(bare(to));
    return xml(
      'vCard',
      { xmlns: NS.VCARD },
      avatar === undefined
        ? undefined
        : xml(
            'PHOTO',
            {},
            xml('TYPE', {}, avatar.contentType),
            xml('BINVAL', {}, Buffer.from(avatar.bytes).toString('base64')),
          ),
    );
  }
}
