import fc from 'fast-check';
import { CodecError } from '../../../common/errors';
import { decodeAll, encodeValue, opaque } from '../../../codec/tls-codec';
import { hex, loadMlsVectors, toHex } from '../../../../test/support/mls-vectors';
import {
  appDataDictionaryCodec,
  appDataDictionaryExtension,
  AppDataUpdateOperation,
  authenticatedContentCodec,
  capabilitiesCodec,
  ContentType,
  credentialCodec,
  type Credential,
  CredentialType,
  decodeMlsMessageAs,
  externalPubExtension,
  externalSendersExtension,
  findExtension,
  framedContentTbsCodec,
  groupSecretsCodec,
  isCustomProposal,
  LeafNodeSource,
  makeExtension,
  mlsMessageCodec,
  privateMessageContentCodec,
  ProposalType,
  proposalCodec,
  preSharedKeyIdCodec,
  PSKType,
  publicMessageCodec,
  ResumptionPSKUsage,
  SenderType,
  setExtension,
  WireFormat,
  type FramedContent,
  type GroupContext,
  type PreSharedKeyID,
  type Proposal,
} from './index';

const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);

function appContent(
  senderType: typeof SenderType.member | typeof SenderType.external = SenderType.member,
): FramedContent {
  return {
    groupId: bytes(0xaa, 0xbb),
    epoch: 7n,
    sender: senderType === SenderType.member ? { senderType, leafIndex: 1 } : { senderType, senderIndex: 0 },
    authenticatedData: bytes(),
    contentType: ContentType.application,
    applicationData: bytes(1, 2, 3),
  };
}

/** MLSMessage(PublicMessage) of appContent(): header 4, group_id 3, epoch 8 -> sender_type at 15, content_type at 21. */
function publicAppMessage(): Uint8Array {
  return encodeValue(
    {
      version: 1,
      wireFormat: WireFormat.mls_public_message,
      publicMessage: { content: appContent(), auth: { signature: bytes(9) }, membershipTag: bytes(8, 8) },
    },
    mlsMessageCodec,
  );
}

function tampered(b: Uint8Array, at: number, value: number): Uint8Array {
  const c = b.slice();
  c[at] = value;
  return c;
}

describe('decoders refuse malformed input with CodecError', () => {
  const first = loadMlsVectors<Record<string, string>>('messages')[0]!;

  it('accepts the untouched message', () => {
    const m = decodeAll(publicAppMessage(), mlsMessageCodec);
    expect(m.wireFormat).toBe(WireFormat.mls_public_message);
  });

  it('trailing bytes', () => {
    for (const field of [
      'mls_welcome',
      'mls_group_info',
      'mls_key_package',
      'private_message',
      'public_message_commit',
    ]) {
      expect(() => decodeAll(hex(first[field]! + '00'), mlsMessageCodec)).toThrow(CodecError);
    }
    expect(() => decodeAll(hex(first.group_secrets! + '00'), groupSecretsCodec)).toThrow(/trailing/);
  });

  it('truncated bytes', () => {
    const kp = hex(first.mls_key_package!);
    for (const cut of [1, 3, 10, kp.length - 1]) {
      expect(() => decodeAll(kp.subarray(0, cut), mlsMessageCodec)).toThrow(CodecError);
    }
  });

  it('unknown or reserved wire format, protocol version, sender type, content type', () => {
    const m = publicAppMessage();
    expect(() => decodeAll(tampered(m, 3, 0), mlsMessageCodec)).toThrow(/invalid WireFormat 0/);
    expect(() => decodeAll(tampered(m, 3, 6), mlsMessageCodec)).toThrow(/invalid WireFormat 6/);
    expect(() => decodeAll(tampered(m, 1, 2), mlsMessageCodec)).toThrow(/invalid ProtocolVersion 2/);
    expect(() => decodeAll(tampered(m, 15, 5), mlsMessageCodec)).toThrow(/invalid SenderType 5/);
    expect(() => decodeAll(tampered(m, 21, 0), mlsMessageCodec)).toThrow(/invalid ContentType 0/);
  });

  it('a message of another wire format than expected', () => {
    expect(decodeMlsMessageAs(hex(first.mls_welcome!), WireFormat.mls_welcome).welcome.secrets.length).toBeGreaterThan(
      0,
    );
    expect(() => decodeMlsMessageAs(hex(first.mls_welcome!), WireFormat.mls_group_info)).toThrow(CodecError);
    expect(() => decodeMlsMessageAs(publicAppMessage(), WireFormat.mls_private_message)).toThrow(
      /wire_format 1 where 2/,
    );
  });

  it('bad optional presence octet, LeafNodeSource, PSKType, AppDataUpdateOperation', () => {
    // GroupSecrets: joiner_secret<V> then optional<PathSecret>.
    const gs = encodeValue({ joinerSecret: bytes(1), psks: [] }, groupSecretsCodec);
    expect(toHex(gs)).toBe('0101' + '00' + '00');
    expect(() => decodeAll(tampered(gs, 2, 2), groupSecretsCodec)).toThrow(/presence octet 2/);
    const psk = encodeValue({ pskType: PSKType.external, pskId: bytes(1), pskNonce: bytes() }, preSharedKeyIdCodec);
    expect(() => decodeAll(tampered(psk, 0, 3), preSharedKeyIdCodec)).toThrow(/invalid PSKType 3/);
    const adu = encodeValue(
      {
        proposalType: ProposalType.app_data_update,
        appDataUpdate: { componentId: 0x22, op: AppDataUpdateOperation.remove },
      },
      proposalCodec,
    );
    expect(toHex(adu)).toBe('0008' + '0022' + '02');
    expect(() => decodeAll(tampered(adu, 4, 0), proposalCodec)).toThrow(/invalid AppDataUpdateOperation 0/);
    // KeyPackage MLSMessage: header, version, suite, init_key, then the leaf node up to its source.
    const kp = hex(first.mls_key_package!);
    const { keyPackage } = decodeMlsMessageAs(kp, WireFormat.mls_key_package);
    const ln = keyPackage.leafNode;
    const at =
      4 +
      2 +
      2 +
      encodeValue(keyPackage.initKey, opaque).length +
      encodeValue(ln.encryptionKey, opaque).length +
      encodeValue(ln.signatureKey, opaque).length +
      encodeValue(ln.credential, credentialCodec).length +
      encodeValue(ln.capabilities, capabilitiesCodec).length;
    expect(kp[at]).toBe(LeafNodeSource.key_package);
    expect(() => decodeAll(tampered(kp, at, 4), mlsMessageCodec)).toThrow(/invalid LeafNodeSource 4/);
  });

  it('non-zero padding in PrivateMessageContent; zero padding is accepted', () => {
    const c = privateMessageContentCodec(ContentType.application);
    const plain = encodeValue(
      {
        contentType: ContentType.application,
        applicationData: bytes(5),
        auth: { signature: bytes(6) },
        paddingLength: 3,
      },
      c,
    );
    expect(toHex(plain)).toBe('0105' + '0106' + '000000');
    expect(decodeAll(plain, c).paddingLength).toBe(3);
    expect(() => decodeAll(tampered(plain, 5, 1), c)).toThrow(/non-zero padding byte at offset 5/);
    // A commit needs its confirmation tag; the content type must match the PrivateMessage's.
    expect(() =>
      encodeValue(
        {
          contentType: ContentType.application,
          applicationData: bytes(),
          auth: { signature: bytes() },
          paddingLength: 0,
        },
        privateMessageContentCodec(ContentType.proposal),
      ),
    ).toThrow(/content_type 1 in a PrivateMessage of type 2/);
  });

  it('sender-dependent fields: membership tag, TBS group context, confirmation tag', () => {
    expect(() => encodeValue({ content: appContent(), auth: { signature: bytes() } }, publicMessageCodec)).toThrow(
      /membership_tag required/,
    );
    expect(() =>
      encodeValue(
        { content: appContent(SenderType.external), auth: { signature: bytes() }, membershipTag: bytes() },
        publicMessageCodec,
      ),
    ).toThrow(/membership_tag not allowed/);
    const ctx: GroupContext = {
      version: 1,
      cipherSuite: 1,
      groupId: bytes(0xaa, 0xbb),
      epoch: 7n,
      treeHash: bytes(1),
      confirmedTranscriptHash: bytes(2),
      extensions: [],
    };
    const withCtx = encodeValue(
      { version: 1, wireFormat: WireFormat.mls_public_message, content: appContent(), context: ctx },
      framedContentTbsCodec,
    );
    expect(decodeAll(withCtx, framedContentTbsCodec).context?.epoch).toBe(7n);
    const noCtx = encodeValue(
      { version: 1, wireFormat: WireFormat.mls_public_message, content: appContent(SenderType.external) },
      framedContentTbsCodec,
    );
    expect(decodeAll(noCtx, framedContentTbsCodec).context).toBeUndefined();
    expect(() => encodeValue({ version: 1, wireFormat: 1, content: appContent() }, framedContentTbsCodec)).toThrow(
      /GroupContext required/,
    );
    expect(() =>
      encodeValue(
        { wireFormat: 1, content: appContent(), auth: { signature: bytes(), confirmationTag: bytes() } },
        authenticatedContentCodec,
      ),
    ).toThrow(/confirmation_tag not allowed/);
  });
});

describe('proposals and credentials of other types', () => {
  it('SelfRemove is the type alone; AppEphemeral and AppDataUpdate round-trip', () => {
    expect(toHex(encodeValue({ proposalType: ProposalType.self_remove, selfRemove: {} }, proposalCodec))).toBe('000a');
    const eph: Proposal = {
      proposalType: ProposalType.app_ephemeral,
      appEphemeral: { componentId: 5, data: bytes(1) },
    };
    expect(toHex(encodeValue(eph, proposalCodec))).toBe('0009' + '0005' + '0101');
    const upd: Proposal = {
      proposalType: ProposalType.app_data_update,
      appDataUpdate: { componentId: 0x22, op: AppDataUpdateOperation.update, update: bytes(7, 7) },
    };
    expect(decodeAll(encodeValue(upd, proposalCodec), proposalCodec)).toEqual(upd);
  });

  it('an unknown proposal type is a custom proposal with an opaque<V> body', () => {
    const p = decodeAll(hex('0a0a' + '03' + 'aabbcc'), proposalCodec);
    expect(isCustomProposal(p)).toBe(true);
    expect(p).toEqual({ proposalType: 0x0a0a, custom: bytes(0xaa, 0xbb, 0xcc) });
    expect(toHex(encodeValue(p, proposalCodec))).toBe('0a0a03aabbcc');
    expect(() => encodeValue({ proposalType: ProposalType.add, custom: bytes() }, proposalCodec)).toThrow(
      /modelled, not custom/,
    );
  });

  it('an unknown credential type is a custom credential with an opaque<V> body', () => {
    const c = decodeAll(hex('0003' + '02' + '0102'), credentialCodec);
    expect(c).toEqual({ credentialType: CredentialType.multi, data: bytes(1, 2) });
    expect(toHex(encodeValue(c, credentialCodec))).toBe('0003020102');
    const x509: Credential = { credentialType: CredentialType.x509, certificates: [bytes(1), bytes(2, 3)] };
    expect(toHex(encodeValue(x509, credentialCodec))).toBe('0002' + '05' + '0101' + '020203');
  });
});

describe('typed extensions', () => {
  it('external_pub keeps the HPKEPublicKey length prefix; external_senders is a vector', () => {
    const key = new Uint8Array(32).fill(7);
    const ext = makeExtension(externalPubExtension, { externalPub: key });
    expect(ext.extensionData.length).toBe(33);
    expect(ext.extensionData[0]).toBe(32);
    const senders = [
      { signatureKey: bytes(1), credential: { credentialType: CredentialType.basic, identity: bytes(2) } } as const,
    ];
    const es = makeExtension(externalSendersExtension, senders);
    expect(toHex(es.extensionData)).toBe('06' + '0101' + '0001' + '0102');
    expect(findExtension([ext, es], externalSendersExtension)).toEqual(senders);
  });

  it('find / set / duplicates / trailing bytes', () => {
    const a = { extensionType: 0xff00, extensionData: bytes() };
    const dict = { componentData: [{ componentId: 1, data: bytes(1) }] };
    let list = setExtension([a], appDataDictionaryExtension, dict);
    expect(list.map((e) => e.extensionType)).toEqual([0xff00, 6]);
    list = setExtension([{ extensionType: 6, extensionData: bytes() }, a], appDataDictionaryExtension, dict);
    expect(list.map((e) => e.extensionType)).toEqual([6, 0xff00]);
    expect(findExtension(list, appDataDictionaryExtension)).toEqual(dict);
    expect(setExtension(list, appDataDictionaryExtension, undefined)).toEqual([a]);
    expect(findExtension([a], appDataDictionaryExtension)).toBeUndefined();
    expect(() => findExtension([list[0]!, list[0]!], appDataDictionaryExtension)).toThrow(/appears 2 times/);
    const padded = { extensionType: 6, extensionData: new Uint8Array([...list[0]!.extensionData, 0]) };
    expect(() => findExtension([padded], appDataDictionaryExtension)).toThrow(/trailing/);
  });

  it('app_data_dictionary entries must be strictly sorted', () => {
    const unsorted = hex('08' + '0002' + '0100' + '0001' + '0100');
    expect(() => decodeAll(unsorted, appDataDictionaryCodec)).toThrow(/not strictly sorted/);
    expect(() =>
      encodeValue(
        {
          componentData: [
            { componentId: 1, data: bytes() },
            { componentId: 1, data: bytes() },
          ],
        },
        appDataDictionaryCodec,
      ),
    ).toThrow(/not strictly sorted/);
  });
});

describe('property round-trips', () => {
  const u8 = fc.uint8Array({ maxLength: 80 });
  const u16 = fc.integer({ min: 0, max: 0xffff });
  const u32 = fc.integer({ min: 0, max: 0xffffffff });

  const pskId: fc.Arbitrary<PreSharedKeyID> = fc.oneof(
    fc.record({ pskType: fc.constant(PSKType.external), pskId: u8, pskNonce: u8 }),
    fc.record({
      pskType: fc.constant(PSKType.resumption),
      usage: fc.constantFrom(ResumptionPSKUsage.application, ResumptionPSKUsage.reinit, ResumptionPSKUsage.branch),
      pskGroupId: u8,
      pskEpoch: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      pskNonce: u8,
    }),
  );

  const proposal: fc.Arbitrary<Proposal> = fc.oneof(
    fc.record({ proposalType: fc.constant(ProposalType.remove), remove: fc.record({ removed: u32 }) }),
    fc.record({ proposalType: fc.constant(ProposalType.psk), preSharedKey: fc.record({ psk: pskId }) }),
    fc.record({ proposalType: fc.constant(ProposalType.external_init), externalInit: fc.record({ kemOutput: u8 }) }),
    fc.record({
      proposalType: fc.constant(ProposalType.group_context_extensions),
      groupContextExtensions: fc.record({
        extensions: fc.array(fc.record({ extensionType: u16, extensionData: u8 }), { maxLength: 4 }),
      }),
    }),
    fc.record({
      proposalType: fc.constant(ProposalType.app_data_update),
      appDataUpdate: fc.oneof(
        fc.record({ componentId: u16, op: fc.constant(AppDataUpdateOperation.update), update: u8 }),
        fc.record({ componentId: u16, op: fc.constant(AppDataUpdateOperation.remove) }),
      ),
    }),
    fc.record({ proposalType: fc.constant(ProposalType.self_remove), selfRemove: fc.constant({}) }),
    fc.record({ proposalType: u16.filter((t) => t === 0 || t > 0x000a), custom: u8 }),
  );

  it('Proposal', () => {
    fc.assert(
      fc.property(proposal, (p) => {
        const enc = encodeValue(p, proposalCodec);
        expect(decodeAll(enc, proposalCodec)).toEqual(p);
        expect(() => decodeAll(new Uint8Array([...enc, 0]), proposalCodec)).toThrow(CodecError);
      }),
    );
  });

  it('PrivateMessageContent with padding', () => {
    fc.assert(
      fc.property(proposal, u8, fc.integer({ min: 0, max: 300 }), (p, sig, paddingLength) => {
        const c = privateMessageContentCodec(ContentType.proposal);
        const v = { contentType: ContentType.proposal, proposal: p, auth: { signature: sig }, paddingLength };
        const enc = encodeValue(v, c);
        expect(decodeAll(enc, c)).toEqual(v);
        if (paddingLength > 0) expect(() => decodeAll(tampered(enc, enc.length - 1, 1), c)).toThrow(/non-zero padding/);
      }),
    );
  });
});
