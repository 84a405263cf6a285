/**
 * The hub provider's external-sender identity (protocol-06 §7.4): an Ed25519 key pair with the
 * basic credential `mimi://<domain>`, listed in every room group's `external_senders` and used to
 * sign the hub's MIMI requests and answers (key material requests, `/groupInfo` responses). Also
 * the suite-1 helpers the rooms need for RFC 9420 §5.1 labeled signatures and encryption.
 */
import { type ProviderDomain, isProviderDomain } from '../common/ids';
import { TlsReader, writeTls } from '../codec/tls-codec';
import { CodecError } from '../common/errors';
import {
  cipherSuiteById,
  decryptWithLabel as coreDecryptWithLabel,
  encryptWithLabel as coreEncryptWithLabel,
  signWithLabel as coreSignWithLabel,
  verifyWithLabel as coreVerifyWithLabel,
  type CipherSuite,
  type KeyPair,
} from './core/crypto';
import type { ExternalSender } from './core/structs';
import { hubExternalSender } from './gateway/room-extensions';

const RECORD_VERSION = 1;
const utf8 = new TextEncoder();

/** MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519, the suite of every MIMI room here. */
const MIMI_CIPHERSUITE = 1;

let suite: CipherSuite | undefined;
/** The implementation of `MIMI_CIPHERSUITE` (node:crypto). */
export function mimiSuite(): CipherSuite {
  suite ??= cipherSuiteById(MIMI_CIPHERSUITE);
  return suite;
}

/** RFC 9420 §5.1.2 SignWithLabel with suite 1. */
export function signWithLabel(privateKey: Uint8Array, label: string, content: Uint8Array): Uint8Array {
  return coreSignWithLabel(mimiSuite(), privateKey, label, content);
}

/** RFC 9420 §5.1.2 VerifyWithLabel with suite 1: false (never a throw) when it does not verify. */
export function verifyWithLabel(
  publicKey: Uint8Array,
  label: string,
  content: Uint8Array,
  signature: Uint8Array,
): boolean {
  try {
    return coreVerifyWithLabel(mimiSuite(), publicKey, label, content, signature);
  } catch {
    return false;
  }
}

/**
 * RFC 9420 §5.1.3 EncryptWithLabel with suite 1.
 * @throws CodecError when `publicKey` is not an X25519 key.
 */
export function encryptWithLabel(
  publicKey: Uint8Array,
  label: string,
  context: Uint8Array,
  plaintext: Uint8Array,
): { kemOutput: Uint8Array; ciphertext: Uint8Array } {
  try {
    return coreEncryptWithLabel(mimiSuite(), publicKey, label, context, plaintext);
  } catch (e) {
    throw new CodecError(`not an HPKE public key of the room's cipher suite`, { cause: e });
  }
}

/**
 * RFC 9420 §5.1.3 DecryptWithLabel with suite 1.
 * @throws CodecError when the ciphertext does not open.
 */
export function decryptWithLabel(
  privateKey: Uint8Array,
  label: string,
  context: Uint8Array,
  sealed: { kemOutput: Uint8Array; ciphertext: Uint8Array },
): Uint8Array {
  try {
    return coreDecryptWithLabel(mimiSuite(), privateKey, label, context, sealed.kemOutput, sealed.ciphertext);
  } catch (e) {
    throw new CodecError(`the HPKE ciphertext does not open (${label})`, { cause: e });
  }
}

/** A fresh HPKE key pair of suite 1 (e.g. the one-time `/groupInfo` key). */
export function hpkeKeyPair(): KeyPair {
  return mimiSuite().hpkeGenerateKeyPair();
}

export class HubExternalSender {
  private constructor(
    readonly domain: ProviderDomain,
    readonly signaturePublicKey: Uint8Array,
    private readonly signaturePrivateKey: Uint8Array,
  ) {}

  /** Generate a fresh key pair for `domain`. */
  static generate(domain: ProviderDomain): HubExternalSender {
    const { publicKey, privateKey } = mimiSuite().signatureGenerateKeyPair();
    return new HubExternalSender(domain, publicKey, privateKey);
  }

  /** Restore from `toBytes()` output. @throws CodecError on malformed bytes. */
  static fromBytes(bytes: Uint8Array): HubExternalSender {
    const r = new TlsReader(bytes, 'HubExternalSender');
    const version = r.uint8();
    if (version !== RECORD_VERSION) r.fail(`unknown record version ${version}`);
    const rawDomain = r.opaque();
    const publicKey = r.opaque();
    const privateKey = r.opaque();
    r.done();
    const domain = new TextDecoder().decode(rawDomain);
    if (!isProviderDomain(domain)) return r.fail(`bad provider domain ${domain}`);
    return new HubExternalSender(domain, publicKey, privateKey);
  }

  /** Serialise, private key included: store it like any other secret. */
  toBytes(): Uint8Array {
    return writeTls((w) => {
      w.uint8(RECORD_VERSION);
      w.opaque(utf8.encode(this.domain));
      w.opaque(this.signaturePublicKey);
      w.opaque(this.signaturePrivateKey);
    });
  }

  /** RFC 9420 §12.1.8.1 `ExternalSender`: this key with the credential `mimi://<domain>`. */
  get externalSender(): ExternalSender {
    return hubExternalSender(this.domain, this.signaturePublicKey);
  }

  /** SignWithLabel (RFC 9420 §5.1.2) with the hub key. */
  signWithLabel(label: string, content: Uint8Array): Uint8Array {
    return signWithLabel(this.signaturePrivateKey, label, content);
  }
}
