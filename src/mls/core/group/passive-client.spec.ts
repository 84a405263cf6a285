/**
 * The working group's passive-client vectors: join from a Welcome (with the given key package
 * private keys and external PSKs), then process each epoch's proposals and commit and compare
 * epoch_authenticator. A single-client peer goes through the same code as the gateway's many
 * local members (one local leaf here).
 */
import { hex, loadMlsVectors, toHex, VectorTally } from '../../../../test/support/mls-vectors';
import { isSupportedCipherSuite } from '../crypto';
import { decodeMlsMessage } from '../framing';
import { RatchetTree } from '../ratchet-tree';
import { WireFormat } from '../structs';
import { epochAuthenticator, joinFromWelcome, processCommit, processProposal } from './index';

interface PassiveClientVector {
  cipher_suite: number;
  external_psks: { psk_id: string; psk: string }[];
  key_package: string;
  signature_priv: string;
  encryption_priv: string;
  init_priv: string;
  welcome: string;
  ratchet_tree: string | null;
  initial_epoch_authenticator: string;
  epochs: { proposals: string[]; commit: string; epoch_authenticator: string }[];
}

/** Runs one vector; returns undefined when it passes, else where and why it failed. */
function runVector(v: PassiveClientVector): string | undefined {
  const kpMessage = decodeMlsMessage(hex(v.key_package));
  if (kpMessage.wireFormat !== WireFormat.mls_key_package) return 'key_package is not an MLSMessage(KeyPackage)';
  const psks = new Map(v.external_psks.map((p) => [p.psk_id, hex(p.psk)]));
  let step = 'join';
  try {
    let { state } = joinFromWelcome(
      decodeMlsMessage(hex(v.welcome)),
      {
        keyPackage: kpMessage.keyPackage,
        initPrivateKey: hex(v.init_priv),
        encryptionPrivateKey: hex(v.encryption_priv),
        signaturePrivateKey: hex(v.signature_priv),
      },
      {
        checkKeys: true,
        externalPsks: (id) => psks.get(toHex(id)),
        ...(v.ratchet_tree ? { ratchetTree: RatchetTree.fromBytes(hex(v.ratchet_tree)) } : {}),
      },
    );
    if (toHex(epochAuthenticator(state)) !== v.initial_epoch_authenticator) return 'join: epoch_authenticator differs';
    for (const [i, epoch] of v.epochs.entries()) {
      step = `epoch ${i}`;
      for (const p of epoch.proposals) state = processProposal(state, decodeMlsMessage(hex(p))).state;
      const processed = processCommit(state, decodeMlsMessage(hex(epoch.commit)), {
        externalPsks: (id) => psks.get(toHex(id)),
      });
      if (!processed.state) return `${step}: the passive client was removed`;
      state = processed.state;
      if (toHex(epochAuthenticator(state)) !== epoch.epoch_authenticator) return `${step}: epoch_authenticator differs`;
    }
    return undefined;
  } catch (e) {
    return `${step}: ${(e as Error).message}`;
  }
}

describe.each(['passive-client-welcome', 'passive-client-handling-commit', 'passive-client-random'])(
  '%s vectors',
  (file) => {
    const tally = new VectorTally(file);
    afterAll(() => tally.report());

    it('every supported vector joins and follows every epoch', () => {
      const vectors = loadMlsVectors<PassiveClientVector>(file);
      const failures: string[] = [];
      let supported = 0;
      vectors.forEach((v, i) => {
        if (!isSupportedCipherSuite(v.cipher_suite)) {
          tally.skip(`cipher suite ${v.cipher_suite} not implemented`);
          return;
        }
        supported++;
        const failure = runVector(v);
        if (failure === undefined) tally.pass();
        else failures.push(`#${i} (suite ${v.cipher_suite}): ${failure}`);
      });
      if (failures.length > 0) process.stdout.write(`${file} failures:\n  ${failures.join('\n  ')}\n`);
      expect(failures).toEqual([]);
      expect(tally.passed).toBe(supported);
    });
  },
);
