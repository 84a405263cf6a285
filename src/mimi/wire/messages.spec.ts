/**
 * Round trips, golden encodings and malformed input for every protocol-06 §5 struct, with
 * real MLS values produced by our MLS core (src/mls/core) embedded where the draft embeds MLS structures.
 */
import fc from 'fast-check';
import { CodecError } from '../../common/errors';
import {
  type AbuseReport,
  abuseReportCodec,
  appDataDictionaryCodec,
  asCapabilities,
  asCredential,
  asGroupInfo,
  asKeyPackage,
  asMlsMessage,
  asRequiredCapabilities,
  asWelcome,
  type AppDataDictionary,
  type ClientKeyMaterial,
  type Codec,
  type ConsentEntry,
  consentEntryCodec,
  consentScopeCodec,
  decodeAll,
  decodeFanoutBody,
  encodeFanoutBody,
  encodeValue,
  type FanoutMessage,
  fanoutMessageCodec,
  type Frank,
  frankAadCodec,
  frankCodec,
  frankingAgentDataCodec,
  frankingIntegrityTbsCodec,
  type GroupInfoOption,
  type GroupInfoRequest,
  groupInfoRatchetTreeTbeCodec,
  groupInfoRequestCodec,
  groupInfoRequestTbs,
  groupInfoRequestTbsCodec,
  type GroupInfoResponse,
  groupInfoResponseCodec,
  groupInfoResponseTbs,
  groupInfoResponseTbsCodec,
  type HandshakeBundle,
  handshakeBundleCodec,
  type IdentifierRequest,
  identifierRequestCodec,
  type IdentifierResponse,
  identifierResponseCodec,
  type KeyMaterialRequest,
  keyMaterialRequestCodec,
  keyMaterialRequestTbsCodec,
  type KeyMaterialResponse,
  keyMaterialResponseCodec,
  type MlsMessageBytes,
  type PartialGroupInfo,
  type QueryElement,
  type RatchetTreeOption,
  serverFrankingContextCodec,
  type SubmitMessageRequest,
  submitMessageRequestCodec,
  type SubmitMessageResponse,
  submitMessageResponseCodec,
  TlsWriter,
  type UpdateRequest,
  updateRequestCodec,
  type UpdateRoomResponse,
  updateRoomResponseCodec,
  type UserProfile,
} from './index';
import {
  ALICE_URI,
  appDataUpdateProposal,
  basicCredential,
  BOB_URI,
  makeMlsSamples,
  SAMPLE_CIPHERSUITE_ID,
  uint16Lists,
  type MlsSamples,
} from '../../../test/kits/mimi/mls-samples';
import { expectCodecError, thrownBy } from '../../../test/support/codec-errors';

const te = new TextEncoder();
const ROOM_URI = 'mimi://hub.example/r/Rl33FWLCYWOwxHrYnpWDQg';
const CLIENT_URI = 'mimi://b.example/u/bob/c/phone';
const TS = 1644387225019n;
const EPOCH = 42n;
const MAX_U64 = (1n << 64n) - 1n;
const PROPERTY_RUNS = 60;
const FUZZ_RUNS = 300;

// ---- helpers ----------------------------------------------------------------------------------

/** Hand-assembled wire bytes: numbers are single octets, strings are `<V>` UTF-8, arrays are spliced. */
function wire(...parts: (number | string | Uint8Array | number[])[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === 'number') out.push(p);
    else if (typeof p === 'string') {
      const b = te.encode(p);
      if (b.length >= 64) throw new Error('wire(): long strings need an explicit prefix');
      out.push(b.length, ...b);
    } else out.push(...p);
  }
  return Uint8Array.from(out);
}

function u16(n: number): number[] {
  return [n >> 8, n & 0xff];
}

function u64(n: bigint): number[] {
  return Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(56 - 8 * i)) & 0xffn));
}

function v(bytes: Uint8Array): number[] {
  if (bytes.length >= 64) throw new Error('v(): only short vectors');
  return [bytes.length, ...bytes];
}

function roundTrip<T>(value: T, c: Codec<T>): Uint8Array {
  const bytes = encodeValue(value, c);
  const back = decodeAll(bytes, c);
  expect(back).toEqual(value);
  expect(encodeValue(back, c)).toEqual(bytes);
  return bytes;
}

// ---- arbitraries ------------------------------------------------------------------------------

const uriArb = fc.oneof(
  fc.constantFrom(ALICE_URI, BOB_URI, ROOM_URI, ''),
  fc.string({ unit: 'grapheme', maxLength: 90 }).map((s) => `mimi://x.example/u/${s}`),
);
const textArb = fc.string({ unit: 'grapheme', maxLength: 80 });
const bytesArb = fc.uint8Array({ maxLength: 100 });
const u64Arb = fc.bigInt({ min: 0n, max: MAX_U64 });
const cipherSuiteArb = fc.integer({ min: 0, max: 0xffff });
const uint16ListArb = fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 6 });

const appDataDictionaryArb: fc.Arbitrary<AppDataDictionary> = fc
  .uniqueArray(fc.integer({ min: 0, max: 0xffff }), { maxLength: 4 })
  .chain((ids) =>
    fc.tuple(...ids.sort((a, b) => a - b).map((componentId) => bytesArb.map((data) => ({ componentId, data })))),
  )
  .map((componentData) => ({ componentData }));

const frankArb: fc.Arbitrary<Frank> = fc.record({
  serverFrank: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  frankingSignatureCiphersuite: cipherSuiteArb,
  frankingIntegritySignature: bytesArb,
});

interface Arbs {
  credential: fc.Arbitrary<ReturnType<typeof asCredential>>;
  keyPackage: fc.Arbitrary<ReturnType<typeof asKeyPackage>>;
  proposal: fc.Arbitrary<MlsMessageBytes>;
  commit: fc.Arbitrary<MlsMessageBytes>;
  ratchetTreeOption: fc.Arbitrary<RatchetTreeOption>;
  groupInfoOption: fc.Arbitrary<GroupInfoOption>;
}

function arbs(s: MlsSamples): Arbs {
  const credential = fc.oneof(
    uriArb.map((u) => asCredential(basicCredential(u))),
    fc.array(bytesArb, { maxLength: 3 }).map((certs) => {
      const w = new TlsWriter();
      w.uint16(2);
      w.vector(certs, (ww, c) => ww.opaque(c));
      return asCredential(w.finish());
    }),
  );
  const ratchetTreeOption: fc.Arbitrary<RatchetTreeOption> = fc.oneof(
    fc.constant({ representation: 'full' as const, ratchetTree: s.ratchetTree }),
    uriArb.map((u) => ({ representation: 'httpsUri' as const, ratchetTreeUrl: u.replace('mimi:', 'https:') })),
    fc.constant({ representation: 'outOfBand' as const }),
    fc.constant({ representation: 'distributionService' as const }),
  );
  const partialGroupInfo: fc.Arbitrary<PartialGroupInfo> = fc.record({
    ratchetTreePresence: fc.constantFrom('no_ratchet_tree', 'present', 'removed', 'added'),
    groupInfoExtensions: fc.array(
      fc.record({ extensionType: fc.integer({ min: 0, max: 0xffff }), extensionData: bytesArb }),
      { maxLength: 3 },
    ),
    signature: bytesArb,
  });
  return {
    credential,
    keyPackage: fc.constantFrom(asKeyPackage(s.keyPackage), asKeyPackage(s.keyPackage2)),
    proposal: fc.constantFrom(
      asMlsMessage(s.publicProposal),
      asMlsMessage(s.privateProposal),
      asMlsMessage(appDataUpdateProposal(te.encode('add bob'))),
    ),
    commit: fc.constantFrom(
      asMlsMessage(s.publicCommit),
      asMlsMessage(s.privateCommit),
      asMlsMessage(s.externalCommit),
    ),
    ratchetTreeOption,
    groupInfoOption: fc.oneof(
      fc.constant({ representation: 'full' as const, groupInfo: asGroupInfo(s.groupInfo) }),
      partialGroupInfo.map((p) => ({ representation: 'partial' as const, partialGroupInfo: p })),
    ),
  };
}

/** `{ ...base, [key]: value }` without the key when value is undefined (decoders omit absent optionals). */
function withOptional<B extends object, K extends string, V>(base: B, key: K, value: V | undefined) {
  return (value === undefined ? base : { ...base, [key]: value }) as B & Partial<Record<K, V>>;
}

interface Case<T> {
  name: string;
  codec: Codec<T>;
  arb: (s: MlsSamples) => fc.Arbitrary<T>;
  /** A fully populated value with real MLS bytes, for truncation and mutation tests. */
  example: (s: MlsSamples) => T;
}
function kase<T>(c: Case<T>): Case<unknown> {
  return c as unknown as Case<unknown>;
}

const keyMaterialRequestArb = (s: MlsSamples): fc.Arbitrary<KeyMaterialRequest> => {
  const a = arbs(s);
  return fc.record({
    protocol: fc.constant('mls10' as const),
    requestingUser: uriArb,
    targetUser: uriArb,
    roomId: uriArb,
    acceptableCiphersuites: fc.array(cipherSuiteArb, { minLength: 1, maxLength: 5 }),
    requiredCapabilities: fc
      .tuple(uint16ListArb, uint16ListArb, uint16ListArb)
      .map(([a1, a2, a3]) => asRequiredCapabilities(uint16Lists(a1, a2, a3))),
    requesterSignatureKey: bytesArb,
    requesterCredential: a.credential,
    keyMaterialRequestSignature: bytesArb,
  });
};

const clientKeyMaterialArb = (s: MlsSamples): fc.Arbitrary<ClientKeyMaterial> =>
  fc.oneof(
    fc.record({ clientStatus: fc.constant('success' as const), clientUri: uriArb, keyPackage: arbs(s).keyPackage }),
    fc.record({ clientStatus: fc.constant('keyMaterialExhausted' as const), clientUri: uriArb }),
    fc
      .tuple(
        uriArb,
        fc.option(
          fc
            .tuple(uint16ListArb, uint16ListArb, uint16ListArb, uint16ListArb, uint16ListArb)
            .map((l) => asCapabilities(uint16Lists(...l))),
          { nil: undefined },
        ),
      )
      .map(([clientUri, caps]) =>
        withOptional({ clientStatus: 'nothingCompatible' as const, clientUri }, 'clientCapabilities', caps),
      ),
  );

const keyMaterialResponseArb = (s: MlsSamples): fc.Arbitrary<KeyMaterialResponse> =>
  fc.record({
    protocol: fc.constant('mls10' as const),
    userStatus: fc.constantFrom(
      'success',
      'partialSuccess',
      'incompatibleProtocol',
      'noCompatibleMaterial',
      'userUnknown',
      'noConsent',
      'noConsentForThisRoom',
      'userDeleted',
    ),
    userUri: uriArb,
    clients: fc.array(clientKeyMaterialArb(s), { maxLength: 3 }),
  });

const handshakeBundleArb = (s: MlsSamples): fc.Arbitrary<HandshakeBundle> => {
  const a = arbs(s);
  return fc.oneof(
    fc
      .tuple(
        a.commit,
        fc.option(fc.constant(asWelcome(s.welcome)), { nil: undefined }),
        a.groupInfoOption,
        a.ratchetTreeOption,
      )
      .map(([proposalOrCommit, welcome, groupInfoOption, ratchetTreeOption]) =>
        withOptional(
          { proposalOrCommit, contentType: 'commit' as const, groupInfoOption, ratchetTreeOption },
          'welcome',
          welcome,
        ),
      ),
    fc.record({
      proposalOrCommit: a.proposal,
      contentType: fc.constant('proposal' as const),
      moreProposals: fc.array(a.proposal, { maxLength: 3 }),
    }),
  );
};

const updateRoomResponseArb: fc.Arbitrary<UpdateRoomResponse> = fc.oneof(
  fc.record({ responseCode: fc.constant('success' as const), errorDescription: textArb, acceptedTimestamp: u64Arb }),
  fc.record({ responseCode: fc.constant('wrongEpoch' as const), errorDescription: textArb, currentEpoch: u64Arb }),
  fc.record({ responseCode: fc.constant('notAllowed' as const), errorDescription: textArb }),
  fc.record({
    responseCode: fc.constant('invalidProposal' as const),
    errorDescription: textArb,
    invalidProposals: fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { maxLength: 3 }),
  }),
);

const submitMessageResponseArb: fc.Arbitrary<SubmitMessageResponse> = fc.oneof(
  fc
    .tuple(u64Arb, fc.option(frankArb, { nil: undefined }))
    .map(([acceptedTimestamp, frank]) =>
      withOptional({ protocol: 'mls10' as const, statusCode: 'accepted' as const, acceptedTimestamp }, 'frank', frank),
    ),
  fc.constant({ protocol: 'mls10' as const, statusCode: 'notAllowed' as const }),
  u64Arb.map((currentEpoch) => ({ protocol: 'mls10' as const, statusCode: 'epochTooOld' as const, currentEpoch })),
);

const fanoutMessageArb = (s: MlsSamples): fc.Arbitrary<FanoutMessage> => {
  const a = arbs(s);
  return fc.oneof(
    fc
      .tuple(u64Arb, fc.option(frankArb, { nil: undefined }))
      .map(([timestamp, frank]) =>
        withOptional(
          { timestamp, message: asMlsMessage(s.applicationMessage), messageKind: 'application' as const },
          'frank',
          frank,
        ),
      ),
    fc.record({
      timestamp: u64Arb,
      message: fc.constant(asMlsMessage(s.welcomeMessage)),
      messageKind: fc.constant('welcome' as const),
      ratchetTreeOption: a.ratchetTreeOption,
    }),
    fc.record({
      timestamp: u64Arb,
      message: a.proposal,
      messageKind: fc.constant('proposal' as const),
      moreProposals: fc.array(a.proposal, { maxLength: 2 }),
    }),
    fc.record({
      timestamp: u64Arb,
      message: a.commit,
      messageKind: fc.constant('commit' as const),
      externalProposals: fc.array(a.proposal, { maxLength: 2 }),
    }),
  );
};

const groupInfoRequestArb = (s: MlsSamples): fc.Arbitrary<GroupInfoRequest> =>
  fc.record({
    protocol: fc.constant('mls10' as const),
    cipherSuite: cipherSuiteArb,
    requestingSignatureKey: bytesArb,
    requestingCredential: arbs(s).credential,
    groupInfoPublicKey: bytesArb,
    joiningCode: bytesArb,
    signature: bytesArb,
  });

const hubSenderArb = (s: MlsSamples) => fc.record({ signatureKey: bytesArb, credential: arbs(s).credential });
const hpkeCiphertextArb = fc.record({ kemOutput: bytesArb, ciphertext: bytesArb });

const groupInfoResponseArb = (s: MlsSamples): fc.Arbitrary<GroupInfoResponse> =>
  fc.oneof(
    fc.record({
      protocol: fc.constant('mls10' as const),
      roomId: uriArb,
      status: fc.constant('success' as const),
      cipherSuite: cipherSuiteArb,
      hubSender: hubSenderArb(s),
      encryptedGroupInfoAndTree: hpkeCiphertextArb,
      signature: bytesArb,
    }),
    fc.record({
      protocol: fc.constant('mls10' as const),
      roomId: uriArb,
      status: fc.constantFrom('notAuthorized' as const, 'noSuchRoom' as const),
    }),
  );

const consentEntryArb = (s: MlsSamples): fc.Arbitrary<ConsentEntry> =>
  fc
    .tuple(
      fc.constantFrom('cancel' as const, 'request' as const, 'grant' as const, 'revoke' as const),
      uriArb,
      uriArb,
      fc.option(uriArb, { nil: undefined }),
      fc.array(arbs(s).keyPackage, { maxLength: 2 }),
      appDataDictionaryArb,
    )
    .map(([consentOperation, requesterUri, targetUri, roomId, clientKeyPackages, consentExtensions]) => {
      const scope = withOptional({ requesterUri, targetUri }, 'roomId', roomId);
      return consentOperation === 'grant'
        ? { consentOperation, ...scope, clientKeyPackages, consentExtensions }
        : { consentOperation, ...scope, consentExtensions };
    });

const queryElementArb: fc.Arbitrary<QueryElement> = fc.oneof(
  fc.record({ searchType: fc.constant('oidcStdClaim' as const), claimName: textArb, searchValue: textArb }),
  fc.record({ searchType: fc.constant('vcardField' as const), propertyName: textArb, searchValue: textArb }),
  fc.record({
    searchType: fc.constantFrom(
      'handle' as const,
      'nick' as const,
      'email' as const,
      'phone' as const,
      'partialName' as const,
      'wholeProfile' as const,
    ),
    searchValue: textArb,
  }),
);

const identifierRequestArb: fc.Arbitrary<IdentifierRequest> = fc.record({
  queryElements: fc.array(queryElementArb, { maxLength: 3 }),
  idRequestExtensions: appDataDictionaryArb,
});

const userProfileArb: fc.Arbitrary<UserProfile> = fc.record({
  stableUri: uriArb,
  fields: fc.array(
    fc.record({
      fieldSource: fc.constantFrom('oidcStdClaim' as const, 'vcardField' as const),
      fieldName: textArb,
      fieldValue: bytesArb,
    }),
    { maxLength: 3 },
  ),
});

const identifierResponseArb: fc.Arbitrary<IdentifierResponse> = fc.record({
  responseCode: fc.constantFrom('success', 'notFound', 'ambiguous', 'forbidden', 'unsupportedField'),
  uri: fc.array(uriArb, { maxLength: 3 }),
  foundProfiles: fc.array(userProfileArb, { maxLength: 2 }),
  idResponseExtensions: appDataDictionaryArb,
});

const abuseReportArb: fc.Arbitrary<AbuseReport> = fc.record({
  reportingUser: uriArb,
  allegedAbuserUri: uriArb,
  reasonCode: fc.integer({ min: 0, max: 255 }),
  note: textArb,
  messages: fc.array(fc.record({ messageContent: bytesArb, frank: frankArb, acceptedTimestamp: u64Arb }), {
    maxLength: 2,
  }),
  abuseExtensions: appDataDictionaryArb,
});

const EXTENSIONS: AppDataDictionary = { componentData: [{ componentId: 0x0022, data: te.encode('ext') }] };
const FRANK: Frank = {
  serverFrank: new Uint8Array(32).fill(0xaa),
  frankingSignatureCiphersuite: SAMPLE_CIPHERSUITE_ID,
  frankingIntegritySignature: new Uint8Array(64).fill(0x55),
};

const CASES: Case<unknown>[] = [
  kase<KeyMaterialRequest>({
    name: 'KeyMaterialRequest',
    codec: keyMaterialRequestCodec,
    arb: keyMaterialRequestArb,
    example: () => ({
      protocol: 'mls10',
      requestingUser: ALICE_URI,
      targetUser: BOB_URI,
      roomId: ROOM_URI,
      acceptableCiphersuites: [SAMPLE_CIPHERSUITE_ID, 3],
      requiredCapabilities: asRequiredCapabilities(uint16Lists([0x0006], [0x0008], [1])),
      requesterSignatureKey: new Uint8Array(32).fill(1),
      requesterCredential: asCredential(basicCredential(ALICE_URI)),
      keyMaterialRequestSignature: new Uint8Array(64).fill(2),
    }),
  }),
  kase<KeyMaterialResponse>({
    name: 'KeyMaterialResponse',
    codec: keyMaterialResponseCodec,
    arb: keyMaterialResponseArb,
    example: (s) => ({
      protocol: 'mls10',
      userStatus: 'partialSuccess',
      userUri: BOB_URI,
      clients: [
        { clientStatus: 'success', clientUri: CLIENT_URI, keyPackage: asKeyPackage(s.keyPackage) },
        { clientStatus: 'keyMaterialExhausted', clientUri: CLIENT_URI },
        {
          clientStatus: 'nothingCompatible',
          clientUri: CLIENT_URI,
          clientCapabilities: asCapabilities(uint16Lists([1], [1, 2], [], [], [1])),
        },
      ],
    }),
  }),
  kase<UpdateRequest>({
    name: 'UpdateRequest',
    codec: updateRequestCodec,
    arb: (s) => handshakeBundleArb(s).map((bundle) => ({ bundle })),
    example: (s) => ({
      bundle: {
        proposalOrCommit: asMlsMessage(s.publicCommit),
        contentType: 'commit',
        welcome: asWelcome(s.welcome),
        groupInfoOption: { representation: 'full', groupInfo: asGroupInfo(s.groupInfo) },
        ratchetTreeOption: { representation: 'full', ratchetTree: s.ratchetTree },
      },
    }),
  }),
  kase<HandshakeBundle>({
    name: 'HandshakeBundle(proposal)',
    codec: handshakeBundleCodec,
    arb: handshakeBundleArb,
    example: (s) => ({
      proposalOrCommit: asMlsMessage(appDataUpdateProposal(te.encode('add bob'))),
      contentType: 'proposal',
      moreProposals: [asMlsMessage(s.publicProposal), asMlsMessage(s.privateProposal)],
    }),
  }),
  kase<UpdateRoomResponse>({
    name: 'UpdateRoomResponse',
    codec: updateRoomResponseCodec,
    arb: () => updateRoomResponseArb,
    example: () => ({
      responseCode: 'invalidProposal',
      errorDescription: 'proposal 0 is invalid',
      invalidProposals: [new Uint8Array(32).fill(7)],
    }),
  }),
  kase<SubmitMessageRequest>({
    name: 'SubmitMessageRequest',
    codec: submitMessageRequestCodec,
    arb: (s) =>
      fc.record({
        protocol: fc.constant('mls10' as const),
        appMessage: fc.constant(asMlsMessage(s.applicationMessage)),
        sendingUri: uriArb,
      }),
    example: (s) => ({ protocol: 'mls10', appMessage: asMlsMessage(s.applicationMessage), sendingUri: ALICE_URI }),
  }),
  kase<SubmitMessageResponse>({
    name: 'SubmitMessageResponse',
    codec: submitMessageResponseCodec,
    arb: () => submitMessageResponseArb,
    example: () => ({ protocol: 'mls10', statusCode: 'accepted', acceptedTimestamp: TS, frank: FRANK }),
  }),
  kase<FanoutMessage>({
    name: 'FanoutMessage',
    codec: fanoutMessageCodec,
    arb: fanoutMessageArb,
    example: (s) => ({
      timestamp: TS,
      message: asMlsMessage(s.externalCommit),
      messageKind: 'commit',
      externalProposals: [asMlsMessage(appDataUpdateProposal(te.encode('re-add'), 2n))],
    }),
  }),
  kase<GroupInfoRequest>({
    name: 'GroupInfoRequest',
    codec: groupInfoRequestCodec,
    arb: groupInfoRequestArb,
    example: () => ({
      protocol: 'mls10',
      cipherSuite: SAMPLE_CIPHERSUITE_ID,
      requestingSignatureKey: new Uint8Array(32).fill(3),
      requestingCredential: asCredential(basicCredential(BOB_URI)),
      groupInfoPublicKey: new Uint8Array(32).fill(4),
      joiningCode: te.encode('JOIN-1234'),
      signature: new Uint8Array(64).fill(5),
    }),
  }),
  kase<GroupInfoResponse>({
    name: 'GroupInfoResponse',
    codec: groupInfoResponseCodec,
    arb: groupInfoResponseArb,
    example: () => ({
      protocol: 'mls10',
      roomId: ROOM_URI,
      status: 'success',
      cipherSuite: SAMPLE_CIPHERSUITE_ID,
      hubSender: {
        signatureKey: new Uint8Array(32).fill(6),
        credential: asCredential(basicCredential('mimi://hub.example')),
      },
      encryptedGroupInfoAndTree: { kemOutput: new Uint8Array(32).fill(7), ciphertext: new Uint8Array(48).fill(8) },
      signature: new Uint8Array(64).fill(9),
    }),
  }),
  kase({
    name: 'GroupInfoRatchetTreeTBE',
    codec: groupInfoRatchetTreeTbeCodec,
    arb: (s) =>
      fc.record({
        groupInfo: fc.constant(asGroupInfo(s.groupInfo)),
        ratchetTreeOption: arbs(s).ratchetTreeOption,
        pendingProposals: fc.array(fc.record({ proposal: arbs(s).proposal, hubAcceptedTime: u64Arb }), {
          maxLength: 2,
        }),
      }),
    example: (s) => ({
      groupInfo: asGroupInfo(s.groupInfo),
      ratchetTreeOption: { representation: 'full' as const, ratchetTree: s.ratchetTree },
      pendingProposals: [{ proposal: asMlsMessage(s.publicProposal), hubAcceptedTime: TS }],
    }),
  }),
  kase<ConsentEntry>({
    name: 'ConsentEntry',
    codec: consentEntryCodec,
    arb: consentEntryArb,
    example: (s) => ({
      consentOperation: 'grant',
      requesterUri: ALICE_URI,
      targetUri: BOB_URI,
      roomId: ROOM_URI,
      clientKeyPackages: [asKeyPackage(s.keyPackage), asKeyPackage(s.keyPackage2)],
      consentExtensions: EXTENSIONS,
    }),
  }),
  kase<IdentifierRequest>({
    name: 'IdentifierRequest',
    codec: identifierRequestCodec,
    arb: () => identifierRequestArb,
    example: () => ({
      queryElements: [
        { searchType: 'oidcStdClaim', claimName: 'given_name', searchValue: 'Alice' },
        { searchType: 'vcardField', propertyName: 'ORG', searchValue: 'Example' },
        { searchType: 'handle', searchValue: 'im:alice.smith@a.example' },
      ],
      idRequestExtensions: EXTENSIONS,
    }),
  }),
  kase<IdentifierResponse>({
    name: 'IdentifierResponse',
    codec: identifierResponseCodec,
    arb: () => identifierResponseArb,
    example: () => ({
      responseCode: 'success',
      uri: [ALICE_URI],
      foundProfiles: [
        {
          stableUri: ALICE_URI,
          fields: [{ fieldSource: 'oidcStdClaim', fieldName: 'name', fieldValue: te.encode('Alice') }],
        },
      ],
      idResponseExtensions: { componentData: [] },
    }),
  }),
  kase<AbuseReport>({
    name: 'AbuseReport',
    codec: abuseReportCodec,
    arb: () => abuseReportArb,
    example: () => ({
      reportingUser: BOB_URI,
      allegedAbuserUri: ALICE_URI,
      reasonCode: 0,
      note: 'spam',
      messages: [{ messageContent: te.encode('cbor bytes'), frank: FRANK, acceptedTimestamp: TS }],
      abuseExtensions: EXTENSIONS,
    }),
  }),
  kase({
    name: 'FrankingIntegrityTBS',
    codec: frankingIntegrityTbsCodec,
    arb: () =>
      fc.record({
        serverFrank: fc.uint8Array({ minLength: 32, maxLength: 32 }),
        frankingSignatureCiphersuite: cipherSuiteArb,
        context: fc.record({ senderUri: uriArb, roomUri: uriArb, acceptedTimestamp: u64Arb }),
      }),
    example: () => ({
      serverFrank: FRANK.serverFrank,
      frankingSignatureCiphersuite: SAMPLE_CIPHERSUITE_ID,
      context: { senderUri: ALICE_URI, roomUri: ROOM_URI, acceptedTimestamp: TS },
    }),
  }),
  kase({
    name: 'FrankingAgentData',
    codec: frankingAgentDataCodec,
    arb: (s) => fc.record({ frankingSignatureKey: bytesArb, credential: arbs(s).credential }),
    example: () => ({
      frankingSignatureKey: new Uint8Array(32).fill(1),
      credential: asCredential(basicCredential('mimi://hub.example')),
    }),
  }),
];

let samples: MlsSamples;
beforeAll(async () => {
  samples = await makeMlsSamples();
});

// ---- generic properties for every struct -----------------------------------------------------

describe.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
  it('round-trips generated values (encode → decode → equal, decode → encode → same bytes)', () => {
    fc.assert(
      fc.property(c.arb(samples), (value) => {
        roundTrip(value, c.codec);
      }),
      { numRuns: PROPERTY_RUNS },
    );
  });

  it('round-trips the example built from real MLS values', () => {
    roundTrip(c.example(samples), c.codec);
  });

  it('rejects the example truncated at every byte offset with a CodecError', () => {
    const bytes = encodeValue(c.example(samples), c.codec);
    for (let cut = 0; cut < bytes.length; cut++) {
      expectCodecError(() => decodeAll(bytes.subarray(0, cut), c.codec), new RegExp(`^${c.codec.name}`));
    }
  });

  it('rejects trailing bytes', () => {
    const bytes = encodeValue(c.example(samples), c.codec);
    const padded = new Uint8Array(bytes.length + 1);
    padded.set(bytes);
    expectCodecError(() => decodeAll(padded, c.codec), /1 trailing bytes/);
  });

  it('throws only CodecError on random bytes (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const e = thrownBy(() => decodeAll(bytes, c.codec));
        expect(e === undefined || e instanceof CodecError).toBe(true);
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it('throws only CodecError on mutated valid encodings, and re-encodes whatever it accepts (fuzz)', () => {
    const bytes = encodeValue(c.example(samples), c.codec);
    const mutation = fc.record({
      edits: fc.array(fc.tuple(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 4,
      }),
      cut: fc.option(fc.nat(bytes.length), { nil: undefined }),
      extra: fc.uint8Array({ maxLength: 4 }),
    });
    fc.assert(
      fc.property(mutation, ({ edits, cut, extra }) => {
        const mutated = bytes.slice(0, cut ?? bytes.length);
        for (const [at, value] of edits) if (at < mutated.length) mutated[at] = value;
        const input = new Uint8Array(mutated.length + extra.length);
        input.set(mutated);
        input.set(extra, mutated.length);
        let decoded: unknown;
        const e = thrownBy(() => {
          decoded = decodeAll(input, c.codec);
        });
        if (e !== undefined) {
          expect(e).toBeInstanceOf(CodecError);
        } else {
          // Decoding is strict (minimal varints, 0/1 presence octets, known enums), so accepted input is canonical.
          expect(encodeValue(decoded, c.codec)).toEqual(input);
        }
      }),
      { numRuns: FUZZ_RUNS },
    );
  });
});

// ---- golden encodings (hand-assembled from the draft's struct definitions) ---------------------

describe('golden encodings', () => {
  it('UpdateRoomResponse wrongEpoch', () => {
    const value: UpdateRoomResponse = { responseCode: 'wrongEpoch', errorDescription: 'stale', currentEpoch: EPOCH };
    expect(encodeValue(value, updateRoomResponseCodec)).toEqual(wire(1, 'stale', u64(EPOCH)));
  });

  it('SubmitMessageResponse accepted with a frank', () => {
    const value: SubmitMessageResponse = {
      protocol: 'mls10',
      statusCode: 'accepted',
      acceptedTimestamp: TS,
      frank: FRANK,
    };
    expect(encodeValue(value, submitMessageResponseCodec)).toEqual(
      wire(1, 0, u64(TS), 1, [...FRANK.serverFrank], u16(SAMPLE_CIPHERSUITE_ID), 0x40, 64, [
        ...FRANK.frankingIntegritySignature,
      ]),
    );
  });

  it('SubmitMessageResponse epochTooOld and notAllowed', () => {
    expect(
      encodeValue({ protocol: 'mls10', statusCode: 'epochTooOld', currentEpoch: EPOCH }, submitMessageResponseCodec),
    ).toEqual(wire(1, 2, u64(EPOCH)));
    expect(encodeValue({ protocol: 'mls10', statusCode: 'notAllowed' }, submitMessageResponseCodec)).toEqual(
      wire(1, 1),
    );
  });

  it('SubmitMessageRequest places the MLSMessage inline, without a length prefix', () => {
    const value: SubmitMessageRequest = {
      protocol: 'mls10',
      appMessage: asMlsMessage(samples.applicationMessage),
      sendingUri: ALICE_URI,
    };
    expect(encodeValue(value, submitMessageRequestCodec)).toEqual(wire(1, samples.applicationMessage, ALICE_URI));
  });

  it('ConsentEntry revoke without a room, and grant with no KeyPackages', () => {
    const revoke: ConsentEntry = {
      consentOperation: 'revoke',
      requesterUri: ALICE_URI,
      targetUri: BOB_URI,
      consentExtensions: { componentData: [] },
    };
    expect(encodeValue(revoke, consentEntryCodec)).toEqual(wire(3, ALICE_URI, BOB_URI, 0, 0));
    const grant: ConsentEntry = { ...revoke, consentOperation: 'grant', roomId: ROOM_URI, clientKeyPackages: [] };
    expect(encodeValue(grant, consentEntryCodec)).toEqual(wire(2, ALICE_URI, BOB_URI, 1, ROOM_URI, 0, 0));
  });

  it('IdentifierRequest with a claim-name query element and extensions', () => {
    const value: IdentifierRequest = {
      queryElements: [{ searchType: 'oidcStdClaim', claimName: 'family_name', searchValue: 'Smith' }],
      idRequestExtensions: { componentData: [{ componentId: 0x0102, data: Uint8Array.of(9) }] },
    };
    const element = wire(7, 'family_name', 'Smith');
    const component = wire(u16(0x0102), 1, 9);
    expect(encodeValue(value, identifierRequestCodec)).toEqual(
      wire(element.length, [...element], component.length, [...component]),
    );
  });

  it('GroupInfoResponse failure has no mls10 fields', () => {
    const value: GroupInfoResponse = { protocol: 'mls10', roomId: ROOM_URI, status: 'noSuchRoom' };
    expect(encodeValue(value, groupInfoResponseCodec)).toEqual(wire(1, ROOM_URI, 3));
  });

  it('FanoutMessage for a Welcome carries a RatchetTreeOption', () => {
    const value: FanoutMessage = {
      timestamp: TS,
      message: asMlsMessage(samples.welcomeMessage),
      messageKind: 'welcome',
      ratchetTreeOption: { representation: 'httpsUri', ratchetTreeUrl: 'https://hub.example/t/1' },
    };
    expect(encodeValue(value, fanoutMessageCodec)).toEqual(
      wire(u64(TS), samples.welcomeMessage, 2, 'https://hub.example/t/1'),
    );
  });

  it('HandshakeBundle for a commit with optional Welcome absent and a partial GroupInfo', () => {
    const partial: PartialGroupInfo = {
      ratchetTreePresence: 'present',
      groupInfoExtensions: [{ extensionType: 5, extensionData: Uint8Array.of(1, 2) }],
      signature: Uint8Array.of(0xee),
    };
    const value: HandshakeBundle = {
      proposalOrCommit: asMlsMessage(samples.publicCommit),
      contentType: 'commit',
      groupInfoOption: { representation: 'partial', partialGroupInfo: partial },
      ratchetTreeOption: { representation: 'outOfBand' },
    };
    expect(encodeValue(value, handshakeBundleCodec)).toEqual(
      wire(samples.publicCommit, 0, 2, 1, 5, u16(5), 2, 1, 2, 1, 0xee, 3),
    );
  });

  it('AbuseReport', () => {
    const message = { messageContent: Uint8Array.of(0xa1), frank: FRANK, acceptedTimestamp: TS };
    const value: AbuseReport = {
      reportingUser: '',
      allegedAbuserUri: ALICE_URI,
      reasonCode: 0,
      note: '',
      messages: [message],
      abuseExtensions: { componentData: [] },
    };
    const frank = encodeValue(FRANK, frankCodec);
    const abusive = wire(1, 0xa1, [...frank], u64(TS));
    expect(encodeValue(value, abuseReportCodec)).toEqual(
      wire(0, ALICE_URI, 0, 0, 0x40, abusive.length, [...abusive], 0),
    );
  });
});

// ---- selected rules and draft-specific behaviour -----------------------------------------------

describe('malformed input names the struct, field and offset', () => {
  it('SubmitMessageRequest.sendingUri with an over-long vector length', () => {
    const app = samples.applicationMessage;
    const bytes = wire(1, app, 0x41, 0x2c, [...te.encode('mimi://a.ex')], 0);
    expectCodecError(
      () => decodeAll(bytes, submitMessageRequestCodec),
      new RegExp(
        `^SubmitMessageRequest\\.sendingUri: vector length 300 exceeds remaining 12 bytes at offset ${1 + app.length}$`,
      ),
    );
  });

  it('a non-minimal varint inside a struct', () => {
    const bytes = wire(1, 0x40, 0x05, [...te.encode('stale')], u64(EPOCH));
    expectCodecError(
      () => decodeAll(bytes, updateRoomResponseCodec),
      /^UpdateRoomResponse\.errorDescription: non-minimal varint: length 5 encoded in 2 bytes at offset 1$/,
    );
  });

  it.each([
    [
      'KeyMaterialRequest',
      keyMaterialRequestCodec as Codec<unknown>,
      wire(2),
      /^KeyMaterialRequest\.protocol: unknown Protocol value 2 at offset 0$/,
    ],
    ['KeyMaterialRequest reserved', keyMaterialRequestCodec as Codec<unknown>, wire(0), /unknown Protocol value 0/],
    [
      'UpdateRoomResponse',
      updateRoomResponseCodec as Codec<unknown>,
      wire(4, 0),
      /^UpdateRoomResponse\.responseCode: unknown UpdateResponseCode value 4 at offset 0$/,
    ],
    [
      'SubmitMessageResponse',
      submitMessageResponseCodec as Codec<unknown>,
      wire(1, 3),
      /^SubmitMessageResponse\.statusCode: unknown SubmitResponseCode value 3 at offset 1$/,
    ],
    [
      'KeyMaterialResponse user',
      keyMaterialResponseCodec as Codec<unknown>,
      wire(1, 8, 0, 0),
      /userStatus: unknown KeyMaterialUserCode value 8/,
    ],
    [
      'KeyMaterialResponse client',
      keyMaterialResponseCodec as Codec<unknown>,
      wire(1, 0, 0, 2, 3, 0),
      /^KeyMaterialResponse\.clients\[0\]\.clientStatus: unknown KeyMaterialClientCode value 3 at offset 4$/,
    ],
    [
      'GroupInfoResponse reserved',
      groupInfoResponseCodec as Codec<unknown>,
      wire(1, 0, 0),
      /status: unknown GroupInfoCode value 0/,
    ],
    [
      'ConsentEntry',
      consentEntryCodec as Codec<unknown>,
      wire(4),
      /consentOperation: unknown ConsentOperation value 4/,
    ],
    [
      'IdentifierRequest',
      identifierRequestCodec as Codec<unknown>,
      wire(2, 9, 0, 0),
      /query_elements\[0\]\.searchType: unknown SearchIdentifierType value 9/,
    ],
    [
      'IdentifierResponse',
      identifierResponseCodec as Codec<unknown>,
      wire(5, 0, 0, 0),
      /responseCode: unknown IdentifierQueryCode value 5/,
    ],
    [
      'RatchetTreeOption',
      fanoutMessageCodec as Codec<unknown>,
      undefined,
      /ratchetTreeOption\.representation: unknown RatchetTreeRepresentation value 9/,
    ],
  ])('an unknown enum value (%s)', (_name, c, bytes, pattern) => {
    const input = bytes ?? wire(u64(TS), samples.welcomeMessage, 9);
    expectCodecError(() => decodeAll(input, c), pattern);
  });

  it('an invalid optional presence octet', () => {
    expectCodecError(
      () => decodeAll(wire(1, 0, u64(TS), 2), submitMessageResponseCodec),
      /frank: invalid optional presence octet 2/,
    );
  });

  it('invalid UTF-8 in a URI', () => {
    expectCodecError(
      () => decodeAll(wire(3, 2, 0xc3, 0x28, 0, 0, 0), consentEntryCodec),
      /requesterUri: invalid UTF-8/,
    );
  });
});

describe('embedded MLS messages are checked against what the draft allows', () => {
  it('SubmitMessageRequest accepts only a PrivateMessage(application)', () => {
    expectCodecError(
      () => decodeAll(wire(1, samples.privateCommit, ALICE_URI), submitMessageRequestCodec),
      /^SubmitMessageRequest\.appMessage: expected a PrivateMessage\(application\), got private_message\(commit\) at offset 1$/,
    );
    expectCodecError(
      () =>
        encodeValue(
          { protocol: 'mls10', appMessage: asMlsMessage(samples.publicProposal), sendingUri: ALICE_URI },
          submitMessageRequestCodec,
        ),
      /appMessage: cannot encode: expected a PrivateMessage\(application\), got public_message\(proposal\)/,
    );
  });

  it('HandshakeBundle rejects application messages and Welcomes, and a contentType that does not match', () => {
    expectCodecError(
      () => decodeAll(samples.applicationMessage, handshakeBundleCodec),
      /proposalOrCommit: expected a proposal or commit, got private_message\(application\) at offset 0/,
    );
    expectCodecError(() => decodeAll(samples.welcomeMessage, handshakeBundleCodec), /got welcome/);
    expectCodecError(
      () =>
        encodeValue(
          { proposalOrCommit: asMlsMessage(samples.publicCommit), contentType: 'proposal', moreProposals: [] },
          handshakeBundleCodec,
        ),
      /contentType 'proposal' does not match the message, a public_message\(commit\)/,
    );
  });

  it('moreProposals and externalProposals hold proposals only', () => {
    const bundle = wire(
      samples.publicProposal,
      0x40 + (samples.publicCommit.length >> 8),
      samples.publicCommit.length & 0xff,
      samples.publicCommit,
    );
    expectCodecError(
      () => decodeAll(bundle, handshakeBundleCodec),
      /moreProposals\[0\]: expected a proposal, got public_message\(commit\)/,
    );
  });

  it('derives the FanoutMessage case from the message and rejects GroupInfo and KeyPackage messages', () => {
    const cases: [Uint8Array, FanoutMessage['messageKind']][] = [
      [samples.applicationMessage, 'application'],
      [samples.welcomeMessage, 'welcome'],
      [samples.publicProposal, 'proposal'],
      [samples.privateProposal, 'proposal'],
      [samples.publicCommit, 'commit'],
      [samples.privateCommit, 'commit'],
    ];
    for (const [message, kind] of cases) {
      const tail = kind === 'application' ? [0] : kind === 'welcome' ? [3] : [0];
      expect(decodeAll(wire(u64(TS), message, tail), fanoutMessageCodec).messageKind).toBe(kind);
    }
    expectCodecError(
      () => decodeAll(wire(u64(TS), samples.groupInfoMessage, 0), fanoutMessageCodec),
      /a group_info cannot be fanned out/,
    );
    expectCodecError(
      () => decodeAll(wire(u64(TS), samples.keyPackageMessage, 0), fanoutMessageCodec),
      /a key_package cannot be fanned out/,
    );
  });

  it('refuses to encode a FanoutMessage whose messageKind does not match its message', () => {
    expectCodecError(
      () =>
        encodeValue(
          { timestamp: TS, message: asMlsMessage(samples.publicCommit), messageKind: 'application' },
          fanoutMessageCodec,
        ),
      /messageKind 'application' does not match the message, a public_message\(commit\)/,
    );
  });
});

describe('/notify bodies of concatenated FanoutMessages', () => {
  it('round-trips several messages and names the failing one', () => {
    const messages: FanoutMessage[] = [
      { timestamp: TS, message: asMlsMessage(samples.applicationMessage), messageKind: 'application', frank: FRANK },
      { timestamp: TS + 1n, message: asMlsMessage(samples.publicCommit), messageKind: 'commit', externalProposals: [] },
      {
        timestamp: TS + 2n,
        message: asMlsMessage(samples.welcomeMessage),
        messageKind: 'welcome',
        ratchetTreeOption: { representation: 'full', ratchetTree: samples.ratchetTree },
      },
    ];
    const body = encodeFanoutBody(messages);
    expect(decodeFanoutBody(body)).toEqual(messages);
    expectCodecError(
      () => decodeFanoutBody(body.subarray(0, body.length - 1)),
      /^FanoutMessage\[2\]\.ratchetTreeOption/,
    );
  });

  it('rejects an empty body both ways', () => {
    expectCodecError(() => decodeFanoutBody(new Uint8Array(0)), /empty body/);
    expectCodecError(() => encodeFanoutBody([]), /at least one FanoutMessage/);
  });
});

describe('signed content (TBS)', () => {
  it('KeyMaterialRequestTBS is the request without its trailing signature', () => {
    const request = CASES[0]!.example(samples) as KeyMaterialRequest;
    const full = encodeValue(request, keyMaterialRequestCodec);
    const tbs = encodeValue(request, keyMaterialRequestTbsCodec);
    const signature = wire(0x40, 64, [...request.keyMaterialRequestSignature]);
    expect(full).toEqual(wire(tbs, signature));
  });

  it('GroupInfoRequestTBS signs an empty joiningCode as absent and a non-empty one as present', () => {
    const request = CASES.find((c) => c.name === 'GroupInfoRequest')!.example(samples) as GroupInfoRequest;
    const head = encodeValue(
      groupInfoRequestTbs({ ...request, joiningCode: new Uint8Array(0) }),
      groupInfoRequestTbsCodec,
    );
    expect(head[head.length - 1]).toBe(0);
    const withCode = encodeValue(groupInfoRequestTbs(request), groupInfoRequestTbsCodec);
    expect(withCode).toEqual(wire(head.subarray(0, head.length - 1), 1, v(request.joiningCode)));
    expect(decodeAll(withCode, groupInfoRequestTbsCodec)).toEqual(groupInfoRequestTbs(request));
  });

  it('GroupInfoResponseTBS is the successful response without its signature', () => {
    const response = CASES.find((c) => c.name === 'GroupInfoResponse')!.example(samples) as Extract<
      GroupInfoResponse,
      { status: 'success' }
    >;
    const full = encodeValue(response, groupInfoResponseCodec);
    const tbs = encodeValue(groupInfoResponseTbs(response), groupInfoResponseTbsCodec);
    expect(full).toEqual(wire(tbs, 0x40, 64, [...response.signature]));
    expect(decodeAll(tbs, groupInfoResponseTbsCodec)).toEqual(groupInfoResponseTbs(response));
  });

  it('ServerFrankingContext and FrankAAD have the draft layout', () => {
    const context = { senderUri: ALICE_URI, roomUri: ROOM_URI, acceptedTimestamp: TS };
    expect(encodeValue(context, serverFrankingContextCodec)).toEqual(wire(ALICE_URI, ROOM_URI, u64(TS)));
    const tag = new Uint8Array(32).fill(3);
    expect(encodeValue({ frankingTag: tag }, frankAadCodec)).toEqual(tag);
    expectCodecError(() => encodeValue({ frankingTag: tag.subarray(1) }, frankAadCodec), /needs 32 bytes, got 31/);
  });
});

describe('other structs', () => {
  it('ConsentScope carries the optional room', () => {
    roundTrip({ requesterUri: ALICE_URI, targetUri: BOB_URI }, consentScopeCodec);
    roundTrip({ requesterUri: ALICE_URI, targetUri: BOB_URI, roomId: ROOM_URI }, consentScopeCodec);
  });

  it('AppDataDictionary must be sorted by component_id without duplicates, both ways', () => {
    const unsorted = {
      componentData: [
        { componentId: 2, data: new Uint8Array(0) },
        { componentId: 1, data: new Uint8Array(0) },
      ],
    };
    expectCodecError(() => encodeValue(unsorted, appDataDictionaryCodec), /not strictly sorted/);
    const duplicate = wire(6, u16(1), 0, u16(1), 0);
    expectCodecError(
      () => decodeAll(duplicate, appDataDictionaryCodec),
      /component_data\[1\] not strictly sorted by component_id at offset 0/,
    );
  });

  it('a full RatchetTreeOption must hold exactly one <V> vector', () => {
    const bad: FanoutMessage = {
      timestamp: TS,
      message: asMlsMessage(samples.welcomeMessage),
      messageKind: 'welcome',
      ratchetTreeOption: { representation: 'full', ratchetTree: Uint8Array.of(2, 1) },
    };
    expectCodecError(
      () => encodeValue(bad, fanoutMessageCodec),
      /ratchet_tree: cannot encode: not a single <V> vector/,
    );
  });

  it('accepts any AbuseType value because the draft defines none yet', () => {
    const report = CASES.find((c) => c.name === 'AbuseReport')!.example(samples) as AbuseReport;
    expect(decodeAll(encodeValue({ ...report, reasonCode: 200 }, abuseReportCodec), abuseReportCodec).reasonCode).toBe(
      200,
    );
  });
});
