/**
 * HPKE (RFC 9180), base mode only, single-shot, synchronous, on node:crypto, for any
 * (KEM, KDF, AEAD) triple of `kem.ts`, `kdf.ts` and `aead.ts`. The exporter (§5.3) is offered
 * on both sides.
 */
import type { KeyPair } from './cipher-suite';
import type { Aead } from './aead';
import { ascii, concat, EMPTY, i2osp, labeledExpand, labeledExtract, type Kdf } from './kdf';
import type { Kem } from './kem';

export interface HpkeContext {
  readonly key: Uint8Array;
  readonly baseNonce: Uint8Array;
  readonly exporterSecret: Uint8Array;
}

const MODE_BASE = 0x00;

/** HPKE base mode for one (KEM, KDF, AEAD) triple. */
export class Hpke {
  private readonly suiteId: Uint8Array;
  private pskIdHash: Uint8Array | undefined;
  private readonly contexts = new WeakMap<Uint8Array, Uint8Array>();

  constructor(
    readonly kem: Kem,
    readonly kdf: Kdf,
    readonly aead: Aead,
  ) {
    this.suiteId = concat(ascii('HPKE'), i2osp(kem.id, 2), i2osp(kdf.id, 2), i2osp(aead.id, 2));
  }

  /**
   * `mode || psk_id_hash || info_hash`, the key schedule context of base mode: psk_id_hash is a
   * constant, and one info (an UpdatePath's EncryptContext, which holds the whole GroupContext)
   * is hashed once for all the recipients it is sealed to. Infos are never mutated.
   */
  private scheduleContext(info: Uint8Array): Uint8Array {
    let context = this.contexts.get(info);
    if (context === undefined) {
      const { kdf, suiteId: s } = this;
      this.pskIdHash ??= labeledExtract(kdf, s, EMPTY, 'psk_id_hash', EMPTY);
      const infoHash = labeledExtract(kdf, s, EMPTY, 'info_hash', info);
      context = concat(Uint8Array.of(MODE_BASE), this.pskIdHash, infoHash);
      this.contexts.set(info, context);
    }
    return context;
  }

  /** KeySchedule(mode_base, shared_secret, info, default_psk, default_psk_id) (RFC 9180 §5.1). */
  keySchedule(sharedSecret: Uint8Array, info: Uint8Array): HpkeContext {
    const { kdf, suiteId: s } = this;
    const context = this.scheduleContext(info);
    const secret = labeledExtract(kdf, s, sharedSecret, 'secret', EMPTY);
    return {
      key: labeledExpand(kdf, s, secret, 'key', context, this.aead.keyLength),
      baseNonce: labeledExpand(kdf, s, secret, 'base_nonce', context, this.aead.nonceLength),
      exporterSecret: labeledExpand(kdf, s, secret, 'exp', context, kdf.hashLength),
    };
  }

  setupBaseS(publicKey: Uint8Array, info: Uint8Array, ephemeral?: KeyPair): { enc: Uint8Array; context: HpkeContext } {
    const { sharedSecret, enc } = this.kem.encap(publicKey, ephemeral);
    return { enc, context: this.keySchedule(sharedSecret, info) };
  }

  setupBaseR(enc: Uint8Array, privateKey: Uint8Array, info: Uint8Array): HpkeContext {
    return this.keySchedule(this.kem.decap(enc, privateKey), info);
  }

  /** Single-shot SealBase: the first (sequence 0) message of a fresh context, nonce = base_nonce. */
  seal(
    publicKey: Uint8Array,
    info: Uint8Array,
    aad: Uint8Array,
    plaintext: Uint8Array,
    ephemeral?: KeyPair,
  ): { enc: Uint8Array; ciphertext: Uint8Array } {
    const { enc, context } = this.setupBaseS(publicKey, info, ephemeral);
    return { enc, ciphertext: this.aead.seal(context.key, context.baseNonce, aad, plaintext) };
  }

  /** Single-shot OpenBase; any failure (bad enc, bad tag) is MlsProtocolError('decryptFailed'). */
  open(privateKey: Uint8Array, enc: Uint8Array, info: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    const context = this.setupBaseR(enc, privateKey, info);
    return this.aead.open(context.key, context.baseNonce, aad, ciphertext);
  }

  /** Context.Export (RFC 9180 §5.3). */
  export(context: HpkeContext, exporterContext: Uint8Array, length: number): Uint8Array {
    return labeledExpand(this.kdf, this.suiteId, context.exporterSecret, 'sec', exporterContext, length);
  }

  sendExport(
    publicKey: Uint8Array,
    info: Uint8Array,
    exporterContext: Uint8Array,
    length: number,
    ephemeral?: KeyPair,
  ): { enc: Uint8Array; secret: Uint8Array } {
    const { enc, context } = this.setupBaseS(publicKey, info, ephemeral);
    return { enc, secret: this.export(context, exporterContext, length) };
  }

  receiveExport(
    privateKey: Uint8Array,
    enc: Uint8Array,
    info: Uint8Array,
    exporterContext: Uint8Array,
    length: number,
  ): Uint8Array {
    return this.export(this.setupBaseR(enc, privateKey, info), exporterContext, length);
  }
}
