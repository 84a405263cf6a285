/**
 * MLS credentials for MIMI identities and the hub's external-sender key.
 *
 * protocol-06 §4.2 leaves the credential type open (TODO in the draft). Until agreed with peers we
 * use RFC 9420 `basic` credentials whose `identity` is the UTF-8 MIMI URI: the user URI for a
 * client (so receivers can bind a message's sender to `senderUri`, protocol-06 §5.4.1) and the
 * provider URI `mimi://<domain>` for a server acting as external sender (§7.4).
 */
import {
  type AuthenticationService,
  type CiphersuiteImpl,
  type Credential,
  type Extension,
  type ExternalSender,
  type Proposal,
  encodeExternalSender,
  encodeMlsMessage,
  proposeExternal,
} from 'ts-mls';
import { ValidationError } from '../common/errors';
import { type ProviderDomain, type UserUri, isProviderDomain, parseMimiUri } from '../common/ids';
import { type Participant, withParticipantList } from './app-data';
import { mlsCiphersuite } from './crypto';
import { MlsErrorReason, MlsGroupError } from './mls.errors';
import { TlsReader, writeTls } from '../codec/tls-codec';
import { decodeGroupInfo } from './ts-mls-internals';

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** `mimi://<domain>`: the provider URI (protocol-06 §3, "MIMI URI examples"). */
export function providerUri(domain: ProviderDomain): string {
  return `mimi://${domain}`;
}

/** Basic credential carrying a MIMI user URI. */
export function userCredential(user: UserUri): Credential {
  if (parseMimiUri(user)?.kind !== 'u') throw new ValidationError(`not a MIMI user URI: ${user}`);
  return { credentialType: 'basic', identity: utf8.encode(user) };
}

/** The MIMI URI a basic credential carries, or `undefined` (other credential type, bad UTF-8). */
export function credentialIdentity(credential: Credential): string | undefined {
  if (credential.credentialType !== 'basic') return undefined;
  try {
    return utf8Strict.decode(credential.identity);
  } catch {
    return undefined;
  }
}

/** The user URI in a member's credential, or `undefined` when it carries none. */
export function credentialUser(credential: Credential): UserUri | undefined {
  const identity = credentialIdentity(credential);
  return identity !== undefined && parseMimiUri(identity)?.kind === 'u' ? (identity as UserUri) : undefined;
}

function isProviderUri(identity: string): boolean {
  const m = /^mimi:\/\/([^/?#]+)$/.exec(identity);
  return m !== null && isProviderDomain(m[1]!);
}

/**
 * Structural credential check used for every leaf and external sender: a basic credential naming a
 * MIMI user URI (members) or a provider URI (external senders). It cannot prove that the key
 * belongs to that identity (basic credentials carry no proof); the hub's transport authentication
 * (mTLS, protocol-06 §4.1) and the KeyPackage routing are what bind keys to providers today.
 */
export const mimiAuthenticationService: AuthenticationService = {
  async validateCredential(credential) {
    const identity = credentialIdentity(credential);
    if (identity === undefined) return false;
    return parseMimiUri(identity)?.kind === 'u' || isProviderUri(identity);
  },
};

/** RFC 9420 §5.1.2 SignWithLabel over `SignContent { opaque label<V>; opaque content<V>; }`. */
export function signContent(label: string, content: Uint8Array): Uint8Array {
  return writeTls((w) => {
    w.opaque(utf8.encode(`MLS 1.0 ${label}`));
    w.opaque(content);
  });
}

const EXTERNAL_SENDER_RECORD_VERSION = 1;

/**
 * The hub provider's MLS external-sender identity (protocol-06 §7.3-7.4): a signature key pair and
 * a basic credential naming `mimi://<domain>`. Its public half goes into every room group's
 * `external_senders` extension; with the private half the hub signs external proposals (e.g.
 * removing a banned user's clients) and, later, GroupInfoResponses (§5.6).
 */
export class HubExternalSender {
  private constructor(
    readonly domain: ProviderDomain,
    readonly signaturePublicKey: Uint8Array,
    private readonly signaturePrivateKey: Uint8Array,
    private readonly cs: CiphersuiteImpl,
  ) {}

  /** Generate a fresh key pair for `domain`. */
  static async generate(domain: ProviderDomain, cs?: CiphersuiteImpl): Promise<HubExternalSender> {
    const suite = cs ?? (await mlsCiphersuite());
    const { publicKey, signKey } = await suite.signature.keygen();
    return new HubExternalSender(domain, publicKey, signKey, suite);
  }

  /**
   * Restore from `toBytes()` output.
   * @throws CodecError on malformed bytes.
   */
  static async fromBytes(bytes: Uint8Array, cs?: CiphersuiteImpl): Promise<HubExternalSender> {
    const r = new TlsReader(bytes, 'HubExternalSender');
    const version = r.uint8();
    if (version !== EXTERNAL_SENDER_RECORD_VERSION) r.fail(`unknown record version ${version}`);
    const rawDomain = r.opaque();
    const publicKey = r.opaque();
    const privateKey = r.opaque();
    r.done();
    const domain = new TextDecoder().decode(rawDomain);
    if (!isProviderDomain(domain)) return r.fail(`bad provider domain ${domain}`);
    return new HubExternalSender(domain, publicKey, privateKey, cs ?? (await mlsCiphersuite()));
  }

  /** Serialise, private key included: store it like any other secret. */
  toBytes(): Uint8Array {
    return writeTls((w) => {
      w.uint8(EXTERNAL_SENDER_RECORD_VERSION);
      w.opaque(utf8.encode(this.domain));
      w.opaque(this.signaturePublicKey);
      w.opaque(this.signaturePrivateKey);
    });
  }

  /** RFC 9420 §12.1.8.1 `ExternalSender`. */
  get externalSender(): ExternalSender {
    return {
      signaturePublicKey: this.signaturePublicKey,
      credential: { credentialType: 'basic', identity: utf8.encode(providerUri(this.domain)) },
    };
  }

  /**
   * The `external_senders` GroupContext extension naming this hub, encoded the way ts-mls 1.6.4
   * reads it: ONE `ExternalSender` per extension, not RFC 9420's `ExternalSender external_senders<V>`
   * vector (see README.md "Deviations").
   */
  extension(): Extension {
    return { extensionType: 'external_senders', extensionData: encodeExternalSender(this.externalSender) };
  }

  /** SignWithLabel (RFC 9420 §5.1.2) with the hub key, e.g. for `GroupInfoResponseTBS` (protocol-06 §5.6). */
  async signWithLabel(label: string, content: Uint8Array): Promise<Uint8Array> {
    return this.cs.signature.sign(this.signaturePrivateKey, signContent(label, content));
  }

  /**
   * An external proposal (RFC 9420 §12.1.8) for the group described by `groupInfo` (raw GroupInfo,
   * as `MemberClient.groupInfo` returns it), as MLSMessage bytes (a PublicMessage from sender type
   * `external`). Members queue it; the next commit must include it (MIMI-NOTES §1.7 "Leave").
   * @throws MlsGroupError when the group does not list this hub in `external_senders`.
   */
  async propose(groupInfo: Uint8Array, proposal: Proposal): Promise<Uint8Array> {
    const decoded = decodeGroupInfo(groupInfo, 0);
    if (decoded === undefined || decoded[1] !== groupInfo.length) {
      throw new MlsGroupError(MlsErrorReason.Malformed, 'GroupInfo: cannot decode');
    }
    try {
      const message = await proposeExternal(
        decoded[0],
        proposal,
        this.signaturePublicKey,
        this.signaturePrivateKey,
        this.cs,
      );
      return encodeMlsMessage(message);
    } catch (e) {
      throw new MlsGroupError(MlsErrorReason.Invalid, `external proposal: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Propose removing the client at `leafIndex` (e.g. a banned user's device, protocol-06 §5.3). */
  async proposeRemove(groupInfo: Uint8Array, leafIndex: number): Promise<Uint8Array> {
    return this.propose(groupInfo, { proposalType: 'remove', remove: { removed: leafIndex } });
  }

  /**
   * Propose a new participant list, as a GroupContextExtensions proposal restating all current
   * GroupContext extensions with the list replaced (README.md "Participant list").
   */
  async proposeParticipantList(groupInfo: Uint8Array, list: readonly Participant[]): Promise<Uint8Array> {
    const decoded = decodeGroupInfo(groupInfo, 0);
    if (decoded === undefined) throw new MlsGroupError(MlsErrorReason.Malformed, 'GroupInfo: cannot decode');
    const extensions = withParticipantList(decoded[0].groupContext.extensions, list);
    return this.propose(groupInfo, {
      proposalType: 'group_context_extensions',
      groupContextExtensions: { extensions },
    });
  }
}
