/** Message protection (RFC 9420 §6): the working group's message-protection vectors and our own checks. */
import { encodeValue, TlsWriter } from '../../codec/tls-codec';
import { hex, loadMlsVectors, VectorTally } from '../../../test/support/mls-vectors';
import type { CipherSuite } from './crypto/cipher-suite';
import { cipherSuiteById, isSupportedCipherSuite, MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519 } from './crypto/suites';
import {
  authenticatedContentBytes,
  decodeMlsMessage,
  decryptPrivateMessage,
  encodeMlsMessage,
  encryptPrivateMessage,
  fromPublicMessage,
  membershipTag,
  noPadding,
  sealContextBytes,
  signContent,
  toPublicMessage,
  verifyContentSignature,
  type SignatureKeyLookup,
} from './framing';
import { SecretTree, senderDataKeyNonce } from './secret-tree';
import {
  commitCodec,
  ContentType,
  encodeAuthData,
  encodeContentBody,
  groupContextCodec,
  privateContentAadCodec,
  proposalCodec,
  ProposalType,
  ProtocolVersion,
  senderDataAadCodec,
  senderDataCodec,
  SenderType,
  WireFormat,
  type AuthenticatedContent,
  type ContentBody,
  type FramedContent,
  type MLSMessage,
  type PrivateMessage,
  type PublicMessage,
} from './structs';

interface MessageProtectionVector {
  cipher_suite: number;
  group_id: string;
  epoch: number;
  tree_hash: string;
  confirmed_transcript_hash: string;
  signature_priv: string;
  signature_pub: string;
  encryption_secret: string;
  sender_data_secret: string;
  membership_key: string;
  proposal: string;
  proposal_pub: string;
  proposal_priv: string;
  commit: string;
  commit_pub: string;
  commit_priv: string;
  application: string;
  application_priv: string;
}

const vectors = loadMlsVectors<MessageProtectionVector>('message-protection');
const tally = new VectorTally('message-protection');

afterAll(() => {
  tally.report();
});

function publicOf(m: MLSMessage): PublicMessage {
  if (m.wireFormat !== WireFormat.mls_public_message) throw new Error(`wire format ${m.wireFormat}`);
  return m.publicMessage;
}
function privateOf(m: MLSMessage): PrivateMessage {
  if (m.wireFormat !== WireFormat.mls_private_message) throw new Error(`wire format ${m.wireFormat}`);
  return m.privateMessage;
}

/** The raw proposal / commit / application data of a content, encoded, to compare with the vector. */
function rawOf(c: FramedContent): Uint8Array {
  switch (c.contentType) {
    case ContentType.application:
      return c.applicationData;
    case ContentType.proposal:
      return encodeValue(c.proposal, proposalCodec);
    case ContentType.commit:
      return encodeValue(c.commit, commitCodec);
  }
}

interface Epoch {
  suite: CipherSuite;
  groupId: Uint8Array;
  epoch: bigint;
  groupContext: Uint8Array;
  membershipKey: Uint8Array;
  senderDataSecret: Uint8Array;
  encryptionSecret: Uint8Array;
  signaturePriv: Uint8Array;
  signatureKeys: SignatureKeyLookup;
}

function epochOf(v: MessageProtectionVector): Epoch {
  const suite = cipherSuiteById(v.cipher_suite);
  const groupId = hex(v.group_id);
  const epoch = BigInt(v.epoch);
  const groupContext = encodeValue(
    {
      version: ProtocolVersion.mls10,
      cipherSuite: v.cipher_suite,
      groupId,
      epoch,
      treeHash: hex(v.tree_hash),
      confirmedTranscriptHash: hex(v.confirmed_transcript_hash),
      extensions: [],
    },
    groupContextCodec,
  );
  const pub = hex(v.signature_pub);
  return {
    suite,
    groupId,
    epoch,
    groupContext,
    membershipKey: hex(v.membership_key),
    senderDataSecret: hex(v.sender_data_secret),
    encryptionSecret: hex(v.encryption_secret),
    signaturePriv: hex(v.signature_priv),
    signatureKeys: { member: (leaf) => (leaf === 1 ? pub : undefined) },
  };
}

/** FramedContent from leaf 1 (the vectors' sender) carrying `body`. */
function contentOf(e: Epoch, body: ContentBody, authenticatedData: Uint8Array = new Uint8Array(0)): FramedContent {
  return {
    groupId: e.groupId,
    epoch: e.epoch,
    sender: { senderType: SenderType.member, leafIndex: 1 },
    authenticatedData,
    ...body,
  };
}

function sign(e: Epoch, wireFormat: WireFormat, content: FramedContent): AuthenticatedContent {
  const ac = signContent(e.suite, {
    wireFormat,
    content,
    signaturePrivateKey: e.signaturePriv,
    groupContext: e.groupContext,
  });
  if (content.contentType === ContentType.commit) ac.auth.confirmationTag = e.suite.randomBytes(e.suite.hashLength);
  return ac;
}

const tree = (e: Epoch): SecretTree => SecretTree.create(e.suite, e.encryptionSecret, 2);
const unprotectPublic = (e: Epoch, m: PublicMessage): AuthenticatedContent => fromPublicMessage(e.suite, m, e);
const unprotectPrivate = (e: Epoch, m: PrivateMessage, secretTree: SecretTree) =>
  decryptPrivateMessage(e.suite, m, { ...e, secretTree });

describe('message-protection vectors', () => {
  const supported = vectors.filter((v) => isSupportedCipherSuite(v.cipher_suite));
  for (const v of vectors) {
    if (!isSupportedCipherSuite(v.cipher_suite)) tally.skip(`cipher suite ${v.cipher_suite} not implemented`);
  }

  it.each(supported.map((v) => [v.cipher_suite, v] as const))('cipher suite %i', (_, v) => {
    const e = epochOf(v);
    const cases = [
      { raw: v.proposal, pub: v.proposal_pub, priv: v.proposal_priv },
      { raw: v.commit, pub: v.commit_pub, priv: v.commit_priv },
      { raw: v.application, pub: undefined, priv: v.application_priv },
    ];
    for (const c of cases) {
      const raw = hex(c.raw);
      let body: ContentBody | undefined;

      // The given PublicMessage verifies and carries the raw value; ours round-trips.
      if (c.pub !== undefined) {
        const ac = unprotectPublic(e, publicOf(decodeMlsMessage(hex(c.pub))));
        expect(rawOf(ac.content)).toEqual(raw);
        body = ac.content;
        const ours = sign(e, WireFormat.mls_public_message, contentOf(e, body));
        const message = toPublicMessage(e.suite, ours, e);
        const back = unprotectPublic(
          e,
          publicOf(
            decodeMlsMessage(encodeMlsMessage({ wireFormat: WireFormat.mls_public_message, publicMessage: message })),
          ),
        );
        expect(authenticatedContentBytes(back)).toEqual(authenticatedContentBytes(ours));
      }

      // The given PrivateMessage decrypts with a fresh secret tree.
      const got = unprotectPrivate(e, privateOf(decodeMlsMessage(hex(c.priv))), tree(e));
      expect(got.leafIndex).toBe(1);
      expect(rawOf(got.authenticatedContent.content)).toEqual(raw);
      body ??= got.authenticatedContent.content;

      if (body.contentType === ContentType.application) {
        const ac = sign(e, WireFormat.mls_public_message, contentOf(e, body));
        expect(() => toPublicMessage(e.suite, ac, e)).toThrow(expect.objectContaining({ failure: 'invalid' }));
      }

      // Ours: the sender's tree and the receiver's tree are different objects, as in real life.
      const ours = sign(e, WireFormat.mls_private_message, contentOf(e, body));
      const sent = encryptPrivateMessage(e.suite, ours, { ...e, secretTree: tree(e) });
      const wire = encodeMlsMessage({ wireFormat: WireFormat.mls_private_message, privateMessage: sent.message });
      const back = unprotectPrivate(e, privateOf(decodeMlsMessage(wire)), tree(e));
      expect(back.generation).toBe(sent.generation);
      expect(authenticatedContentBytes(back.authenticatedContent)).toEqual(authenticatedContentBytes(ours));
    }
    tally.pass();
  });

  it('checks every vector of a supported suite', () => {
    expect(supported.length).toBeGreaterThan(0);
    expect(tally.passed).toBe(supported.length);
  });
});

describe('message protection', () => {
  const v = vectors.find((x) => x.cipher_suite === MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519.id)!;
  const e = epochOf(v);
  const app = (text: string, ad?: Uint8Array): FramedContent =>
    contentOf(e, { contentType: ContentType.application, applicationData: new TextEncoder().encode(text) }, ad);
  const remove: ContentBody = {
    contentType: ContentType.proposal,
    proposal: { proposalType: ProposalType.remove, remove: { removed: 0 } },
  };
  const flip = (b: Uint8Array, i: number): Uint8Array => {
    const out = Uint8Array.from(b);
    out[i < 0 ? out.length + i : i]! ^= 1;
    return out;
  };

  function send(text: string, sender: SecretTree, padding = noPadding) {
    const ac = sign(e, WireFormat.mls_private_message, app(text));
    return encryptPrivateMessage(e.suite, ac, { ...e, secretTree: sender }, { padding }).message;
  }

  it('a large sealed GroupContext (kept at the end of a buffer of its own) signs the same bytes as a plain copy', () => {
    const big = new Uint8Array(20000).map((_, i) => i & 0xff);
    const sealed = sealContextBytes(big.slice());
    const signed = (groupContext: Uint8Array, text: string) =>
      signContent(e.suite, {
        wireFormat: WireFormat.mls_private_message,
        content: app(text),
        signaturePrivateKey: e.signaturePriv,
        groupContext,
      });
    const pub = e.signatureKeys.member(1)!;
    for (const text of ['one', 'x'.repeat(1500), 'y'.repeat(5000)]) {
      // Ed25519 is deterministic: the same signed bytes, the same signature.
      const a = signed(sealed, text);
      expect(Buffer.from(a.auth.signature).equals(signed(big, text).auth.signature)).toBe(true);
      expect(() => verifyContentSignature(e.suite, a, pub, big.slice())).not.toThrow();
      expect(() => verifyContentSignature(e.suite, signed(big, text), pub, sealed)).not.toThrow();
      const other = signed(sealed, `${text}!`);
      expect(() => verifyContentSignature(e.suite, { ...other, auth: a.auth }, pub, sealed)).toThrow(
        expect.objectContaining({ failure: 'badSignature' }),
      );
    }
  });

  it('pads PrivateMessageContent to a multiple of 32 bytes by default', () => {
    const ac = sign(e, WireFormat.mls_private_message, app('hi'));
    for (const text of ['', 'hi', 'x'.repeat(100)]) {
      const sent = encryptPrivateMessage(e.suite, sign(e, WireFormat.mls_private_message, app(text)), {
        ...e,
        secretTree: tree(e),
      });
      expect((sent.message.ciphertext.length - 16) % 32).toBe(0);
    }
    const unpadded = encryptPrivateMessage(e.suite, ac, { ...e, secretTree: tree(e) }, { padding: noPadding });
    expect((unpadded.message.ciphertext.length - 16) % 32).not.toBe(0);
  });

  it('tampered ciphertext or sender data: decryptFailed, and the genuine message still decrypts after', () => {
    const receiver = tree(e);
    const m = send('hello', tree(e));
    for (const bad of [
      { ...m, ciphertext: flip(m.ciphertext, 0) },
      { ...m, ciphertext: flip(m.ciphertext, -1) },
      { ...m, encryptedSenderData: flip(m.encryptedSenderData, 2) },
      { ...m, authenticatedData: new Uint8Array([1]) },
      { ...m, epoch: m.epoch + 1n },
    ]) {
      expect(() => unprotectPrivate(e, bad, receiver)).toThrow(expect.objectContaining({ failure: 'decryptFailed' }));
    }
    expect(unprotectPrivate(e, m, receiver).generation).toBe(0);
  });

  it('replay of a generation already used: MlsProtocolError outOfWindow', () => {
    const sender = tree(e);
    const receiver = tree(e);
    const first = send('one', sender);
    const second = send('two', sender);
    expect(unprotectPrivate(e, second, receiver).generation).toBe(1);
    expect(unprotectPrivate(e, first, receiver).generation).toBe(0);
    expect(() => unprotectPrivate(e, first, receiver)).toThrow(expect.objectContaining({ failure: 'outOfWindow' }));
    expect(() => unprotectPrivate(e, second, receiver)).toThrow(expect.objectContaining({ failure: 'outOfWindow' }));
  });

  it('wrong signature: badSignature (private and public)', () => {
    const other = e.suite.signatureGenerateKeyPair();
    const wrongKeys = { ...e, signatureKeys: { member: () => other.publicKey } };
    expect(() => decryptPrivateMessage(e.suite, send('x', tree(e)), { ...wrongKeys, secretTree: tree(e) })).toThrow(
      expect.objectContaining({ failure: 'badSignature' }),
    );
    const ac = sign(e, WireFormat.mls_public_message, contentOf(e, remove));
    const pm = toPublicMessage(e.suite, ac, e);
    expect(() => fromPublicMessage(e.suite, pm, wrongKeys)).toThrow(
      expect.objectContaining({ failure: 'badSignature' }),
    );
    // Signed for the other wire format (membership tag recomputed, so only the signature is wrong).
    const asPrivate = sign(e, WireFormat.mls_private_message, contentOf(e, remove));
    const swapped = { ...asPrivate, wireFormat: WireFormat.mls_public_message } as const;
    const tag = membershipTag(e.suite, e.membershipKey, swapped, e.groupContext);
    expect(() => fromPublicMessage(e.suite, { ...pm, auth: asPrivate.auth, membershipTag: tag }, e)).toThrow(
      expect.objectContaining({ failure: 'badSignature' }),
    );
  });

  it('wrong membership tag: badTag; a blank sender leaf: notFound', () => {
    const ac = sign(e, WireFormat.mls_public_message, contentOf(e, remove));
    const pm = toPublicMessage(e.suite, ac, e);
    expect(fromPublicMessage(e.suite, pm, e).content).toEqual(ac.content);
    expect(() => fromPublicMessage(e.suite, { ...pm, membershipTag: flip(pm.membershipTag!, 0) }, e)).toThrow(
      expect.objectContaining({ failure: 'badTag' }),
    );
    expect(() => fromPublicMessage(e.suite, pm, { ...e, membershipKey: e.suite.randomBytes(32) })).toThrow(
      expect.objectContaining({ failure: 'badTag' }),
    );
    expect(() => fromPublicMessage(e.suite, pm, { ...e, signatureKeys: { member: () => undefined } })).toThrow(
      expect.objectContaining({ failure: 'notFound' }),
    );
  });

  it('external senders: no membership tag, the external key verifies, only proposals', () => {
    const ext = e.suite.signatureGenerateKeyPair();
    const content: FramedContent = {
      ...contentOf(e, remove),
      sender: { senderType: SenderType.external, senderIndex: 0 },
    };
    const ac = signContent(e.suite, {
      wireFormat: WireFormat.mls_public_message,
      content,
      signaturePrivateKey: ext.privateKey,
    });
    const pm = toPublicMessage(e.suite, ac, {});
    expect(pm.membershipTag).toBeUndefined();
    const keys = {
      ...e,
      signatureKeys: { member: () => undefined, external: (i: number) => (i === 0 ? ext.publicKey : undefined) },
    };
    expect(fromPublicMessage(e.suite, pm, keys).content.sender).toEqual({
      senderType: SenderType.external,
      senderIndex: 0,
    });
    expect(() => fromPublicMessage(e.suite, pm, e)).toThrow(expect.objectContaining({ failure: 'notFound' }));
    expect(() =>
      fromPublicMessage(e.suite, { ...pm, content: { ...pm.content, ...app('x'), sender: content.sender } }, keys),
    ).toThrow(expect.objectContaining({ failure: 'invalid' }));
  });

  it('padding must be zeros: a non-zero padding byte is refused', () => {
    // Encrypt by hand what encryptPrivateMessage would, with one padding byte set.
    const ac = sign(e, WireFormat.mls_private_message, app('pad'));
    const forge = (lastPad: number): PrivateMessage => {
      const w = new TlsWriter();
      encodeContentBody(w, ac.content);
      encodeAuthData(w, ac.auth, ContentType.application);
      w.raw(new Uint8Array([0, 0, 0, lastPad]));
      const { generation, key, nonce } = tree(e).next(1, 'application');
      const base = { groupId: e.groupId, epoch: e.epoch, contentType: ContentType.application };
      const aad = encodeValue({ ...base, authenticatedData: new Uint8Array(0) }, privateContentAadCodec);
      const ciphertext = e.suite.aeadSeal(key, nonce, aad, w.finish());
      const sd = senderDataKeyNonce(e.suite, e.senderDataSecret, ciphertext);
      const senderData = encodeValue({ leafIndex: 1, generation, reuseGuard: new Uint8Array(4) }, senderDataCodec);
      const encryptedSenderData = e.suite.aeadSeal(sd.key, sd.nonce, encodeValue(base, senderDataAadCodec), senderData);
      return { ...base, authenticatedData: new Uint8Array(0), encryptedSenderData, ciphertext };
    };
    expect(unprotectPrivate(e, forge(0), tree(e)).authenticatedContent.content).toEqual(ac.content);
    expect(() => unprotectPrivate(e, forge(7), tree(e))).toThrow(/non-zero padding/);
  });

  it('a commit without its confirmation tag is not framed', () => {
    const commit: ContentBody = { contentType: ContentType.commit, commit: { proposals: [] } };
    const pub = signContent(e.suite, {
      wireFormat: WireFormat.mls_public_message,
      content: contentOf(e, commit),
      signaturePrivateKey: e.signaturePriv,
      groupContext: e.groupContext,
    });
    expect(() => toPublicMessage(e.suite, pub, e)).toThrow(expect.objectContaining({ failure: 'invalid' }));
    const priv = { ...pub, wireFormat: WireFormat.mls_private_message } as const;
    expect(() => encryptPrivateMessage(e.suite, priv, { ...e, secretTree: tree(e) })).toThrow(
      expect.objectContaining({ failure: 'invalid' }),
    );
  });

  it('authenticated_data is carried and covered by the signature', () => {
    const ad = new Uint8Array([9, 9, 9]);
    const ac = sign(e, WireFormat.mls_private_message, app('with ad', ad));
    const sent = encryptPrivateMessage(e.suite, ac, { ...e, secretTree: tree(e) });
    expect(sent.message.authenticatedData).toEqual(ad);
    expect(unprotectPrivate(e, sent.message, tree(e)).authenticatedContent.content.authenticatedData).toEqual(ad);
  });
});
