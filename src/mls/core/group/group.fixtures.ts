/** Shared set-up of the group specs: clients with KeyPackages, a three-member room (A alone, B and C on one gateway). */
import { MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519 as suite } from '../crypto';
import { decodeMlsMessage } from '../framing';
import { createKeyPackage } from '../key-package';
import {
  CredentialType,
  ExtensionType,
  ProposalType,
  appDataDictionaryExtension,
  externalSendersExtension,
  makeExtension,
  requiredCapabilitiesExtension,
  type Extension,
  type MLSMessage,
} from '../structs';
import {
  addLocalMemberFromWelcome,
  createCommit,
  createGroup,
  epochAuthenticator,
  joinFromWelcome,
  propose,
  type GroupState,
  type LocalSigner,
} from './index';

export { suite };
export const enc = new TextEncoder();

export function newClient(name: string) {
  const sig = suite.signatureGenerateKeyPair();
  const credential = { credentialType: CredentialType.basic, identity: enc.encode(name) } as const;
  const kp = createKeyPackage({ suite, credential, signatureKey: sig.publicKey, signaturePrivateKey: sig.privateKey });
  return { name, sig, credential, kp };
}
export type Client = ReturnType<typeof newClient>;

export const joinerKeys = (c: Client) => ({
  keyPackage: c.kp.keyPackage,
  initPrivateKey: c.kp.initPrivateKey,
  encryptionPrivateKey: c.kp.encryptionPrivateKey,
});

export const signer = (leafIndex: number, c: Client): LocalSigner => ({
  leafIndex,
  signaturePrivateKey: c.sig.privateKey,
});
export const decode = (b: Uint8Array): MLSMessage => decodeMlsMessage(b);
export const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

export const COMPONENT = 0x8001;
/** The hub's external-sender key (external_senders[0]). */
export const externalSender = suite.signatureGenerateKeyPair();

export function groupExtensions(): Extension[] {
  return [
    makeExtension(requiredCapabilitiesExtension, {
      extensionTypes: [ExtensionType.app_data_dictionary],
      proposalTypes: [ProposalType.app_data_update, ProposalType.self_remove],
      credentialTypes: [],
    }),
    makeExtension(externalSendersExtension, [
      {
        signatureKey: externalSender.publicKey,
        credential: { credentialType: CredentialType.basic, identity: enc.encode('hub') },
      },
    ]),
    makeExtension(appDataDictionaryExtension, { componentData: [{ componentId: COMPONENT, data: enc.encode('v0') }] }),
  ];
}

/** A (leaf 0) alone; the gateway G holds B (leaf 1) and C (leaf 2) in one state. */
export function threeMembers() {
  const a = newClient('a');
  const b = newClient('b');
  const c = newClient('c');
  let aState = createGroup({
    suite,
    groupId: enc.encode('room-1'),
    extensions: groupExtensions(),
    creator: {
      leafNode: a.kp.keyPackage.leafNode,
      encryptionPrivateKey: a.kp.encryptionPrivateKey,
      signaturePrivateKey: a.sig.privateKey,
    },
  });
  const added = createCommit(aState, {
    committer: signer(0, a),
    proposals: [propose.add(b.kp.keyPackage), propose.add(c.kp.keyPackage)],
  });
  aState = added.state;
  expect(added.effects.addedLeaves).toEqual([1, 2]);
  const welcome = decode(added.welcome!);
  const joinedB = joinFromWelcome(welcome, joinerKeys(b));
  expect(joinedB.leafIndex).toBe(1);
  const joinedC = addLocalMemberFromWelcome(joinedB.state, welcome, joinerKeys(c));
  expect(joinedC.leafIndex).toBe(2);
  return { a, b, c, aState, gState: joinedC.state };
}

export function sameEpoch(...states: GroupState[]): void {
  const [first, ...rest] = states;
  for (const s of rest) {
    expect(s.context.epoch).toBe(first!.context.epoch);
    expect(hex(epochAuthenticator(s))).toBe(hex(epochAuthenticator(first!)));
  }
}
