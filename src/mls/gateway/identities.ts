/**
 * Per-user key material of the gateway's local members: the signature key pair (one per user,
 * shared by all of the user's groups) and the private keys of published KeyPackages, kept until
 * a Welcome or one of our own commits uses them once.
 */
import { TlsReader, writeTls } from '../../codec/tls-codec';
import type { UserUri } from '../../common/ids';
import { ValidationError } from '../../common/errors';
import { parseMimiUri } from '../../common/ids';
import type { CipherSuite } from '../core/crypto';
import type { JoinerKeys } from '../core/group';
import { createKeyPackage, decodeKeyPackage, keyPackageRef, validateKeyPackage } from '../core/key-package';
import { CredentialType, type Credential, type KeyPackage } from '../core/structs';
import type { MlsStorage } from '../mls-storage';
import { gatewayKeys } from './keys';

const VERSION = 1;
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

export interface MemberIdentity {
  readonly user: UserUri;
  readonly signatureKey: Uint8Array;
  readonly signaturePrivateKey: Uint8Array;
  readonly credential: Credential;
}

/** A KeyPackage a local user published; its private keys stay in storage until used once. */
export interface PublishedKeyPackage {
  readonly user: UserUri;
  /** Bare RFC 9420 KeyPackage. */
  readonly keyPackage: Uint8Array;
  /** The same as an MLSMessage (wire format mls_key_package). */
  readonly mlsMessage: Uint8Array;
  readonly ref: Uint8Array;
}

/** The basic credential of a MIMI user: its URI in UTF-8. */
function userCredential(user: UserUri): Credential {
  if (parseMimiUri(user)?.kind !== 'u') throw new ValidationError(`not a MIMI user URI: ${user}`);
  return { credentialType: CredentialType.basic, identity: utf8.encode(user) };
}

/** The MIMI user a credential names, or undefined. */
export function userOfCredential(credential: Credential): UserUri | undefined {
  if (credential.credentialType !== CredentialType.basic || !('identity' in credential)) return undefined;
  let text: string;
  try {
    text = utf8Strict.decode(credential.identity);
  } catch {
    return undefined;
  }
  return parseMimiUri(text)?.kind === 'u' ? (text as UserUri) : undefined;
}

/**
 * A received KeyPackage (bare or MLSMessage) checked per RFC 9420 §10.1, with the MIMI user its
 * credential names.
 * @throws MlsProtocolError / CodecError when invalid; ValidationError without a MIMI user credential.
 */
export function checkKeyPackage(
  bytes: Uint8Array,
  now?: number,
): { keyPackage: KeyPackage; user: UserUri; ref: Uint8Array } {
  const keyPackage = decodeKeyPackage(bytes);
  validateKeyPackage(keyPackage, now === undefined ? {} : { now: Math.floor(now / 1000) });
  const user = userOfCredential(keyPackage.leafNode.credential);
  if (user === undefined) throw new ValidationError('KeyPackage credential carries no MIMI user URI');
  return { keyPackage, user, ref: keyPackageRef(keyPackage) };
}

/** Identities kept in memory (least recently used out first); the rest are read back from storage. */
const DEFAULT_MAX_CACHED = 4096;

/** How `Identities` caches: the size cap, the clock of idle times, and who must stay. */
export interface IdentityCacheOptions {
  readonly maxCached?: number;
  /** The clock of idle times (ms); default the `now` of KeyPackage lifetimes. */
  readonly idleClock?: () => number;
  /** Users whose identity must stay cached (written by a transaction still open). */
  readonly keep?: (user: UserUri) => boolean;
}

export class Identities {
  /** LRU order: the most recently used last; with when it was last used. */
  private readonly cache = new Map<string, { readonly id: MemberIdentity; at: number }>();
  private readonly maxCached: number;
  private readonly idleClock: () => number;

  constructor(
    private readonly storage: MlsStorage,
    private readonly suite: CipherSuite,
    private readonly now: () => number = Date.now,
    private readonly cacheOptions: IdentityCacheOptions = {},
  ) {
    this.maxCached = cacheOptions.maxCached ?? DEFAULT_MAX_CACHED;
    this.idleClock = cacheOptions.idleClock ?? now;
  }

  /** Identities in memory now (puppets and the bot; a metric). */
  get cachedCount(): number {
    return this.cache.size;
  }

  /**
   * Drop the identities not used for `idleMs` (they are read back from storage on next use);
   * returns how many. Identity records never change once stored, so a reload gives the same keys.
   */
  unloadIdle(idleMs: number): number {
    const before = this.idleClock() - idleMs;
    let count = 0;
    for (const [user, entry] of [...this.cache]) {
      if (entry.at > before || this.kept(user)) continue;
      this.cache.delete(user);
      count++;
    }
    return count;
  }

  async get(user: UserUri): Promise<MemberIdentity | undefined> {
    const hit = this.cache.get(user);
    if (hit) {
      this.cache.delete(user);
      hit.at = this.idleClock();
      this.cache.set(user, hit);
      return hit.id;
    }
    const bytes = await this.storage.get(gatewayKeys.member(user));
    if (bytes === undefined) return undefined;
    const r = new TlsReader(bytes, 'GatewayMember');
    if (r.uint8() !== VERSION) r.fail('unknown member record version');
    const signatureKey = r.opaque();
    const signaturePrivateKey = r.opaque();
    r.done();
    const id = { user, signatureKey, signaturePrivateKey, credential: userCredential(user) };
    this.remember(id);
    return id;
  }

  /** The user's identity, made and stored on first use. */
  async getOrCreate(user: UserUri): Promise<MemberIdentity> {
    const have = await this.get(user);
    if (have) return have;
    const credential = userCredential(user);
    const kp = this.suite.signatureGenerateKeyPair();
    const record = writeTls((w) => {
      w.uint8(VERSION);
      w.opaque(kp.publicKey);
      w.opaque(kp.privateKey);
    });
    await this.storage.put(gatewayKeys.member(user), record);
    const id = { user, signatureKey: kp.publicKey, signaturePrivateKey: kp.privateKey, credential };
    this.remember(id);
    return id;
  }

  /** A fresh KeyPackage and its private keys; `persist: false` keeps them only in the result. */
  async newKeyPackage(
    user: UserUri,
    options: { persist?: boolean; lifetimeSeconds?: number } = {},
  ): Promise<PublishedKeyPackage & { keys: JoinerKeys }> {
    const id = await this.getOrCreate(user);
    const created = createKeyPackage({
      suite: this.suite,
      credential: id.credential,
      signatureKey: id.signatureKey,
      signaturePrivateKey: id.signaturePrivateKey,
      now: Math.floor(this.now() / 1000),
      ...(options.lifetimeSeconds === undefined ? {} : { lifetimeSeconds: options.lifetimeSeconds }),
    });
    if (options.persist !== false) {
      const record = writeTls((w) => {
        w.uint8(VERSION);
        w.opaque(created.keyPackageBytes);
        w.opaque(created.initPrivateKey);
        w.opaque(created.encryptionPrivateKey);
      });
      await this.storage.put(gatewayKeys.keyPackage(user, created.ref), record);
    }
    return {
      user,
      keyPackage: created.keyPackageBytes,
      mlsMessage: created.mlsMessage,
      ref: created.ref,
      keys: {
        keyPackage: created.keyPackage,
        initPrivateKey: created.initPrivateKey,
        encryptionPrivateKey: created.encryptionPrivateKey,
      },
    };
  }

  /** The private keys of the user's published KeyPackage `ref`, if still unused. */
  async keyPackageKeys(user: UserUri, ref: Uint8Array): Promise<JoinerKeys | undefined> {
    const bytes = await this.storage.get(gatewayKeys.keyPackage(user, ref));
    if (bytes === undefined) return undefined;
    const r = new TlsReader(bytes, 'GatewayKeyPackage');
    if (r.uint8() !== VERSION) r.fail('unknown KeyPackage record version');
    const keyPackage = decodeKeyPackage(r.opaque());
    const initPrivateKey = r.opaque();
    const encryptionPrivateKey = r.opaque();
    r.done();
    return { keyPackage, initPrivateKey, encryptionPrivateKey };
  }

  /** Refs (base64url) of the user's unused KeyPackages. */
  async keyPackageRefs(user: UserUri): Promise<string[]> {
    const prefix = gatewayKeys.keyPackagePrefix(user);
    return (await this.storage.list(prefix)).map((k) => k.slice(prefix.length));
  }

  /** Forget a KeyPackage once used. */
  async consumeKeyPackage(user: UserUri, ref: Uint8Array): Promise<void> {
    await this.storage.delete(gatewayKeys.keyPackage(user, ref));
  }

  private remember(id: MemberIdentity): void {
    this.cache.set(id.user, { id, at: this.idleClock() });
    for (const user of this.cache.keys()) {
      if (this.cache.size <= this.maxCached) break;
      if (!this.kept(user)) this.cache.delete(user);
    }
  }

  private kept(user: string): boolean {
    return this.cacheOptions.keep?.(user as UserUri) ?? false;
  }

  /** Drop cached identities (after a rolled-back transaction). */
  forget(user?: UserUri): void {
    if (user === undefined) this.cache.clear();
    else this.cache.delete(user);
  }
}
