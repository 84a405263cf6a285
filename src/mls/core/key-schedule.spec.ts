/** The epoch key schedule (RFC 9420 §8): the working group's key-schedule vectors. */
import { encodeValue } from '../../codec/tls-codec';
import { hex, loadMlsVectors, toHex, VectorTally } from '../../../test/support/mls-vectors';
import { cipherSuiteById, isSupportedCipherSuite } from './crypto/suites';
import {
  computeEpochSecrets,
  confirmationTag,
  externalInitReceive,
  externalInitSend,
  externalKeyPair,
  mlsExporter,
  verifyConfirmationTag,
  verifyMembershipTag,
  membershipTag,
} from './key-schedule';
import { groupContextCodec } from './structs/group-context';

interface KeyScheduleEpoch {
  tree_hash: string;
  commit_secret: string;
  psk_secret: string;
  confirmed_transcript_hash: string;
  group_context: string;
  joiner_secret: string;
  welcome_secret: string;
  init_secret: string;
  sender_data_secret: string;
  encryption_secret: string;
  exporter_secret: string;
  epoch_authenticator: string;
  external_secret: string;
  confirmation_key: string;
  membership_key: string;
  resumption_psk: string;
  external_pub: string;
  exporter: { label: string; context: string; length: number; secret: string };
}
interface KeyScheduleVector {
  cipher_suite: number;
  group_id: string;
  initial_init_secret: string;
  epochs: KeyScheduleEpoch[];
}

const vectors = loadMlsVectors<KeyScheduleVector>('key-schedule');
const tally = new VectorTally('key-schedule');

afterAll(() => {
  tally.report();
});

describe('key-schedule vectors', () => {
  for (const v of vectors) {
    if (!isSupportedCipherSuite(v.cipher_suite)) {
      tally.skip(`cipher suite ${v.cipher_suite} not implemented`);
      continue;
    }
    it(`cipher suite ${v.cipher_suite}, ${v.epochs.length} epochs`, () => {
      const suite = cipherSuiteById(v.cipher_suite);
      let initSecret = hex(v.initial_init_secret);
      v.epochs.forEach((e, epoch) => {
        const groupContext = encodeValue(
          {
            version: 1,
            cipherSuite: v.cipher_suite,
            groupId: hex(v.group_id),
            epoch: BigInt(epoch),
            treeHash: hex(e.tree_hash),
            confirmedTranscriptHash: hex(e.confirmed_transcript_hash),
            extensions: [],
          },
          groupContextCodec,
        );
        expect(toHex(groupContext)).toBe(e.group_context);
        const s = computeEpochSecrets(suite, {
          initSecret,
          commitSecret: hex(e.commit_secret),
          pskSecret: hex(e.psk_secret),
          groupContext,
        });
        const got = {
          joiner_secret: toHex(s.joinerSecret),
          welcome_secret: toHex(s.welcomeSecret),
          init_secret: toHex(s.initSecret),
          sender_data_secret: toHex(s.senderDataSecret),
          encryption_secret: toHex(s.encryptionSecret),
          exporter_secret: toHex(s.exporterSecret),
          epoch_authenticator: toHex(s.epochAuthenticator),
          external_secret: toHex(s.externalSecret),
          confirmation_key: toHex(s.confirmationKey),
          membership_key: toHex(s.membershipKey),
          resumption_psk: toHex(s.resumptionPsk),
          external_pub: toHex(externalKeyPair(suite, s.externalSecret).publicKey),
          exporter_secret_out: toHex(
            mlsExporter(suite, s.exporterSecret, e.exporter.label, hex(e.exporter.context), e.exporter.length),
          ),
        };
        const { exporter, ...want } = e;
        expect(got).toEqual({
          joiner_secret: want.joiner_secret,
          welcome_secret: want.welcome_secret,
          init_secret: want.init_secret,
          sender_data_secret: want.sender_data_secret,
          encryption_secret: want.encryption_secret,
          exporter_secret: want.exporter_secret,
          epoch_authenticator: want.epoch_authenticator,
          external_secret: want.external_secret,
          confirmation_key: want.confirmation_key,
          membership_key: want.membership_key,
          resumption_psk: want.resumption_psk,
          external_pub: want.external_pub,
          exporter_secret_out: exporter.secret,
        });
        initSecret = s.initSecret;
      });
      tally.pass();
    });
  }

  it('checked every vector of a supported suite', () => {
    expect(tally.passed).toBeGreaterThan(0);
    expect(tally.passed).toBe(vectors.filter((v) => isSupportedCipherSuite(v.cipher_suite)).length);
  });
});

describe('key schedule helpers', () => {
  const suite = cipherSuiteById(1);
  const externalSecret = hex('11'.repeat(32));

  it('external init: both sides reach the same init_secret', () => {
    const pub = externalKeyPair(suite, externalSecret).publicKey;
    const { kemOutput, initSecret } = externalInitSend(suite, pub);
    expect(externalInitReceive(suite, externalSecret, kemOutput)).toEqual(initSecret);
    expect(initSecret).toHaveLength(32);
  });

  it('confirmation and membership tags verify and reject a flipped bit', () => {
    const key = hex('22'.repeat(32));
    const input = hex('abcdef');
    const tag = confirmationTag(suite, key, input);
    expect(verifyConfirmationTag(suite, key, input, tag)).toBe(true);
    expect(verifyMembershipTag(suite, key, input, membershipTag(suite, key, input))).toBe(true);
    tag[3] = tag[3]! ^ 0x80;
    expect(verifyConfirmationTag(suite, key, input, tag)).toBe(false);
    expect(verifyConfirmationTag(suite, key, input, tag.subarray(1))).toBe(false);
  });
});
