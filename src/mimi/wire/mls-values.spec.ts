import {
  asCredential,
  asGroupInfo,
  asKeyPackage,
  asMlsMessage,
  asWelcome,
  describeMlsMessage,
  groupInfoCodec,
  inspectForEncode,
  inspectMlsMessage,
  keyPackageCodec,
  readMlsMessage,
  welcomeCodec,
  type MlsMessageInfo,
} from './mls-values';
import { makeMlsSamples, SAMPLE_GROUP_ID, type MlsSamples } from '../../../test/kits/mimi/mls-samples';
import { TlsReader, TlsWriter, decodeAll, encodeValue, type Codec } from '../../codec/tls-codec';
import { expectCodecError } from '../../../test/support/codec-errors';

/*
 * The inline MLS values of the MIMI structs are delimited by the MLS core's own codecs; these tests
 * check the wire side of that: exact bytes kept, the cleartext header read, and every malformed
 * value a CodecError naming where it is.
 */

const te = new TextEncoder();
const TRAILER = Uint8Array.of(0xde, 0xad, 0xbe, 0xef);
const SIGNATURE_LENGTH = 64;
const MAC_LENGTH = 32;
const GROUP_ID = te.encode(SAMPLE_GROUP_ID);
const EPOCH = 7n;
const COMPONENT_PARTICIPANT_LIST = 0x0022;
const PROPOSAL_APP_DATA_UPDATE = 0x0008;
const PROPOSAL_APP_EPHEMERAL = 0x0009;
const PROPOSAL_SELF_REMOVE = 0x000a;
const PROPOSAL_APP_ACK = 0x000b;
const UNKNOWN_PROPOSAL_TYPE = 0x7f01;
const UNKNOWN_CREDENTIAL_TYPE = 0x7f02;

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A PublicMessage(proposal) from member 0 with the proposal body written by `proposal`. */
function publicProposal(proposal: (w: TlsWriter) => void): Uint8Array {
  const w = new TlsWriter();
  w.uint16(1); // mls10
  w.uint16(1); // mls_public_message
  w.opaque(GROUP_ID);
  w.uint64(EPOCH);
  w.uint8(1); // sender_type member
  w.uint32(0);
  w.opaque(new Uint8Array(0)); // authenticated_data
  w.uint8(2); // content_type proposal
  proposal(w);
  w.opaque(new Uint8Array(SIGNATURE_LENGTH));
  w.opaque(new Uint8Array(MAC_LENGTH)); // membership_tag
  return w.finish();
}

let samples: MlsSamples;
beforeAll(async () => {
  samples = await makeMlsSamples();
});

describe('MLSMessage delimiting on real output of our MLS core', () => {
  const framed = { groupId: GROUP_ID, epoch: expect.any(BigInt) };
  const cases: [keyof MlsSamples, MlsMessageInfo][] = [
    ['publicCommit', { wireFormat: 'mls_public_message', contentType: 'commit', senderType: 'member', ...framed }],
    [
      'externalCommit',
      { wireFormat: 'mls_public_message', contentType: 'commit', senderType: 'new_member_commit', ...framed },
    ],
    ['privateCommit', { wireFormat: 'mls_private_message', contentType: 'commit', ...framed }],
    ['publicProposal', { wireFormat: 'mls_public_message', contentType: 'proposal', senderType: 'member', ...framed }],
    ['privateProposal', { wireFormat: 'mls_private_message', contentType: 'proposal', ...framed }],
    ['applicationMessage', { wireFormat: 'mls_private_message', contentType: 'application', ...framed }],
    ['welcomeMessage', { wireFormat: 'mls_welcome' }],
    ['groupInfoMessage', { wireFormat: 'mls_group_info' }],
    ['keyPackageMessage', { wireFormat: 'mls_key_package' }],
  ];

  it.each(cases)('finds the end of %s and reads its header', (name, expected) => {
    const bytes = samples[name] as Uint8Array;
    const r = new TlsReader(concat(bytes, TRAILER));
    const { bytes: read, info } = readMlsMessage(r);
    expect(read).toEqual(bytes);
    expect(r.offset).toBe(bytes.length);
    expect(info).toEqual(expected);
    expect(inspectMlsMessage(bytes)).toEqual(expected);
  });

  it('reports the group id and epoch of framed messages', () => {
    const info = inspectMlsMessage(samples.applicationMessage);
    expect(info.groupId).toEqual(GROUP_ID);
    expect(typeof info.epoch).toBe('bigint');
    expect(describeMlsMessage(info)).toBe('private_message(application)');
  });

  it("reads the header of an encoder's value, and names the path of bytes that are not one MLSMessage", () => {
    const w = new TlsWriter('Outer');
    expect(inspectForEncode(w, samples.publicCommit)).toEqual(inspectMlsMessage(samples.publicCommit));
    expectCodecError(
      () => inspectForEncode(new TlsWriter('Outer'), concat(samples.publicCommit, TRAILER)),
      /^Outer: cannot encode: bytes are not exactly one MLSMessage: .*4 trailing bytes after MLSMessage/,
    );
  });

  it.each(cases)('rejects %s truncated at every offset with a CodecError', (name) => {
    const bytes = samples[name] as Uint8Array;
    for (let cut = 0; cut < bytes.length; cut++) {
      expectCodecError(() => asMlsMessage(bytes.subarray(0, cut)));
    }
  });
});

describe('bare RFC 9420 structs on real output of our MLS core', () => {
  const cases: [string, keyof MlsSamples, Pick<Codec<Uint8Array>, 'name' | 'decode'>][] = [
    ['KeyPackage', 'keyPackage', keyPackageCodec],
    ['Welcome', 'welcome', welcomeCodec],
    ['GroupInfo', 'groupInfo', groupInfoCodec],
  ];

  it.each(cases)('delimits a %s and keeps its exact bytes', (_name, key, c) => {
    const bytes = samples[key] as Uint8Array;
    const r = new TlsReader(concat(bytes, TRAILER));
    expect(c.decode(r)).toEqual(bytes);
    expect(r.offset).toBe(bytes.length);
  });

  it.each(cases)('rejects a %s truncated at every offset', (_name, key, c) => {
    const bytes = samples[key] as Uint8Array;
    for (let cut = 0; cut < bytes.length; cut++) {
      expectCodecError(() => decodeAll(bytes.subarray(0, cut), c));
    }
  });

  it('brands exact values and rejects trailing bytes', () => {
    expect(asKeyPackage(samples.keyPackage)).toBe(samples.keyPackage);
    expect(asWelcome(samples.welcome)).toBe(samples.welcome);
    expect(asGroupInfo(samples.groupInfo)).toBe(samples.groupInfo);
    expectCodecError(() => asKeyPackage(concat(samples.keyPackage, TRAILER)), /4 trailing bytes/);
  });

  it('refuses to encode bytes that are not exactly one value', () => {
    expectCodecError(
      () => encodeValue(concat(samples.welcome, TRAILER) as never, welcomeCodec),
      /Welcome: cannot encode: bytes are not exactly one Welcome/,
    );
  });
});

describe('mls-extensions proposals', () => {
  const appDataUpdate = publicProposal((w) => {
    w.uint16(PROPOSAL_APP_DATA_UPDATE);
    w.uint16(COMPONENT_PARTICIPANT_LIST);
    w.uint8(1); // op = update
    w.opaque(te.encode('participant list diff'));
  });

  it('delimits an AppDataUpdate proposal per draft-ietf-mls-extensions-09 §4.7', () => {
    const r = new TlsReader(concat(appDataUpdate, TRAILER));
    const { bytes, info } = readMlsMessage(r);
    expect(bytes).toEqual(appDataUpdate);
    expect(info).toEqual({
      wireFormat: 'mls_public_message',
      contentType: 'proposal',
      senderType: 'member',
      groupId: GROUP_ID,
      epoch: EPOCH,
    });
  });

  it.each([
    ['AppDataUpdate remove', (w: TlsWriter) => (w.uint16(PROPOSAL_APP_DATA_UPDATE), w.uint16(0x0023), w.uint8(2))],
    ['AppEphemeral', (w: TlsWriter) => (w.uint16(PROPOSAL_APP_EPHEMERAL), w.uint16(0x0005), w.opaque(TRAILER))],
    ['SelfRemove', (w: TlsWriter) => w.uint16(PROPOSAL_SELF_REMOVE)],
    ['AppAck', (w: TlsWriter) => (w.uint16(PROPOSAL_APP_ACK), w.opaque(new Uint8Array(12)))],
    ['Remove', (w: TlsWriter) => (w.uint16(3), w.uint32(4))],
    ['PSK (external)', (w: TlsWriter) => (w.uint16(4), w.uint8(1), w.opaque(TRAILER), w.opaque(TRAILER))],
    [
      'PSK (resumption)',
      (w: TlsWriter) => (w.uint16(4), w.uint8(2), w.uint8(1), w.opaque(GROUP_ID), w.uint64(3n), w.opaque(TRAILER)),
    ],
    [
      'ReInit',
      (w: TlsWriter) => (w.uint16(5), w.opaque(GROUP_ID), w.uint16(1), w.uint16(1), w.opaque(new Uint8Array(0))),
    ],
    ['ExternalInit', (w: TlsWriter) => (w.uint16(6), w.opaque(TRAILER))],
    [
      'GroupContextExtensions',
      (w: TlsWriter) => (w.uint16(7), w.vector([0x0022], (ww, t) => (ww.uint16(t), ww.opaque(TRAILER)))),
    ],
  ])('delimits a %s proposal', (_name, body) => {
    const msg = publicProposal(body);
    const r = new TlsReader(concat(msg, TRAILER));
    readMlsMessage(r);
    expect(r.offset).toBe(msg.length);
  });

  it('delimits an Add proposal carrying a real KeyPackage', () => {
    const msg = publicProposal((w) => {
      w.uint16(1);
      w.raw(samples.keyPackage);
    });
    expect(inspectMlsMessage(msg).contentType).toBe('proposal');
  });

  it('rejects an AppDataUpdate with an invalid operation, naming the path and offset', () => {
    const msg = publicProposal((w) => (w.uint16(PROPOSAL_APP_DATA_UPDATE), w.uint16(0x0022), w.uint8(0)));
    expectCodecError(
      () => asMlsMessage(msg),
      /^MLSMessage\.public_message\.content\.proposal\.appDataUpdate\.op: invalid AppDataUpdateOperation 0 at offset \d+$/,
    );
  });

  it('carries a proposal type it does not know as one opaque<V> body (as openmls and mls-rs do)', () => {
    const msg = publicProposal((w) => (w.uint16(UNKNOWN_PROPOSAL_TYPE), w.opaque(TRAILER)));
    const r = new TlsReader(concat(msg, TRAILER));
    expect(readMlsMessage(r).info.contentType).toBe('proposal');
    expect(r.offset).toBe(msg.length);
  });
});

describe('other malformed MLS input', () => {
  it('rejects an unknown wire format', () => {
    expectCodecError(
      () => asMlsMessage(Uint8Array.of(0, 1, 0xfa, 0xfe)),
      /^MLSMessage\.wire_format: invalid WireFormat 64254 at offset 2$/,
    );
  });

  it('rejects a protocol version other than mls10', () => {
    const bytes = samples.applicationMessage.slice();
    bytes[1] = 2;
    expectCodecError(() => asMlsMessage(bytes), /^MLSMessage\.version: invalid ProtocolVersion 2 at offset 0$/);
  });

  it('rejects an unknown content type in a PrivateMessage', () => {
    const w = new TlsWriter();
    w.uint16(1);
    w.uint16(2);
    w.opaque(GROUP_ID);
    w.uint64(EPOCH);
    w.uint8(9);
    expectCodecError(() => asMlsMessage(w.finish()), /content_type: invalid ContentType 9/);
  });

  it('delimits basic, x509, multi and unknown credentials (an unknown one is one opaque<V>)', () => {
    const basic = new TlsWriter();
    basic.uint16(1);
    basic.opaque(te.encode('mimi://a.example/u/alice'));
    expect(asCredential(basic.finish())).toHaveLength(2 + 1 + 24);

    const x509 = new TlsWriter();
    x509.uint16(2);
    x509.vector([TRAILER, TRAILER], (w, c) => w.opaque(c));
    expect(asCredential(x509.finish())).toHaveLength(2 + 1 + 10);

    const multi = new TlsWriter();
    multi.uint16(3);
    multi.opaque(TRAILER);
    expect(asCredential(multi.finish())).toHaveLength(2 + 1 + 4);

    const unknown = new TlsWriter();
    unknown.uint16(UNKNOWN_CREDENTIAL_TYPE);
    unknown.opaque(TRAILER);
    expect(asCredential(unknown.finish())).toHaveLength(2 + 1 + 4);

    const truncated = new TlsWriter();
    truncated.uint16(UNKNOWN_CREDENTIAL_TYPE);
    truncated.uint8(5);
    expectCodecError(() => asCredential(truncated.finish()), /^Credential\.data: vector length 5 exceeds remaining 0/);
  });
});
