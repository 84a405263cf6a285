/**
 * Moving a group to its next epoch, and what an epoch offers: MLS-Exporter, epoch
 * authenticator, PSK lookup (external and this group's resumption PSKs), GroupInfo.
 */
import type { KeyPair } from '../crypto';
import { mlsFail } from '../errors';
import type { EpochSecrets as ScheduleSecrets } from '../key-schedule';
import { mlsExporter } from '../key-schedule';
import { computePskSecret } from '../psk';
import type { RatchetTree } from '../ratchet-tree';
import {
  PSKType,
  ratchetTreeExtension,
  type Extension,
  type GroupContext,
  type GroupInfo,
  type PreSharedKeyID,
} from '../structs';
import { reconcilePrivateKeys } from '../treekem';
import { createGroupInfo } from '../welcome';
import { suiteOf } from './common';
import { bytesEqual, hexOf } from './proposal-list';
import type { EpochSecrets, ExternalPskLookup, GroupState, LocalSigner, PastEpoch } from './types';

export function keepEpochSecrets(s: ScheduleSecrets): EpochSecrets {
  const { joinerSecret: _j, welcomeSecret: _w, epochSecret: _e, ...rest } = s;
  return rest;
}

export interface NextEpoch {
  readonly context: GroupContext;
  readonly tree: RatchetTree;
  readonly interimTranscriptHash: Uint8Array;
  readonly confirmationTag: Uint8Array;
  readonly secrets: ScheduleSecrets;
  /** New key pairs (path, pending leaf keys); reconciled with the tree together with the old ones. */
  readonly newKeys?: ReadonlyMap<number, KeyPair>;
  readonly removedLeaves: readonly number[];
}

/** `prev` moved to the next epoch: cache emptied, past epoch and resumption PSK kept. */
export function advanceEpoch(prev: GroupState, next: NextEpoch): GroupState {
  const added = new Map(next.newKeys ?? []);
  for (const kp of prev.pendingLeafKeys) {
    const leaf = next.tree.findLeafByEncryptionKey(kp.publicKey);
    if (leaf !== undefined) added.set(2 * leaf, kp);
  }
  const privateKeys = reconcilePrivateKeys(next.tree, prev.privateKeys, added);
  const removed = new Set(next.removedLeaves);
  const localLeaves = prev.localLeaves.filter((l) => !removed.has(l) && privateKeys.has(2 * l));
  const past: PastEpoch = {
    context: prev.context,
    senderDataSecret: prev.secrets.senderDataSecret,
    encryptionSecret: prev.secrets.encryptionSecret,
    signatureKeys: signatureKeyList(prev.tree),
  };
  return {
    context: next.context,
    tree: next.tree,
    interimTranscriptHash: next.interimTranscriptHash,
    confirmationTag: next.confirmationTag,
    secrets: keepEpochSecrets(next.secrets),
    privateKeys,
    localLeaves,
    pendingLeafKeys: [],
    proposals: [],
    pastEpochs: [past, ...prev.pastEpochs].slice(0, prev.options.pastEpochs),
    resumptionPsks: [{ epoch: next.context.epoch, psk: next.secrets.resumptionPsk }, ...prev.resumptionPsks].slice(
      0,
      prev.options.resumptionPsks,
    ),
    options: prev.options,
  };
}

function signatureKeyList(tree: RatchetTree): (Uint8Array | undefined)[] {
  const out: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(tree.leafCount);
  for (const [i, leaf] of tree.leaves()) out[i] = leaf.signatureKey;
  return out;
}

/** MLS-Exporter(label, context, length) of the current epoch (§8.5). */
export function exportSecret(state: GroupState, label: string, context: Uint8Array, length: number): Uint8Array {
  return mlsExporter(suiteOf(state), state.secrets.exporterSecret, label, context, length);
}

/** The epoch authenticator (§8.7): equal for every member that has the same view of the group. */
export function epochAuthenticator(state: GroupState): Uint8Array {
  return state.secrets.epochAuthenticator;
}

export interface PskSources {
  readonly externalPsks?: ExternalPskLookup;
  /** resumption_psk of this group's recent epochs. */
  readonly resumptionPsks?: readonly { readonly epoch: bigint; readonly psk: Uint8Array }[];
  readonly groupId?: Uint8Array;
}

/** psk_secret for `ids` in order; a PSK we do not have is 'notFound' (§12.4.2, §12.4.3.1). */
export function pskSecretFor(
  state: Pick<GroupState, 'context'>,
  ids: readonly PreSharedKeyID[],
  sources: PskSources,
): Uint8Array {
  const suite = suiteOf(state);
  const psks = ids.map((id) => {
    let psk: Uint8Array | undefined;
    if (id.pskType === PSKType.external) {
      psk = sources.externalPsks?.(id.pskId);
    } else if (sources.groupId && bytesEqual(id.pskGroupId, sources.groupId)) {
      psk = sources.resumptionPsks?.find((r) => r.epoch === id.pskEpoch)?.psk;
    }
    if (!psk) {
      const what =
        id.pskType === PSKType.external ? `external PSK ${hexOf(id.pskId)}` : `resumption PSK epoch ${id.pskEpoch}`;
      return mlsFail('notFound', `${what} is not available`);
    }
    return { id, psk };
  });
  return computePskSecret(suite, psks);
}

export interface GroupInfoOptions {
  /** Put the ratchet tree in the GroupInfo (default true). */
  readonly ratchetTree?: boolean;
  /** Advertise external_pub for external commits (default true). */
  readonly externalPub?: boolean;
  readonly extensions?: readonly Extension[];
}

/** A GroupInfo of the current epoch signed by local member `signer` (§12.4.3). */
export function groupInfo(state: GroupState, signer: LocalSigner, options: GroupInfoOptions = {}): GroupInfo {
  const extensions: Extension[] = [...(options.extensions ?? [])];
  if (options.ratchetTree !== false) {
    extensions.push({ extensionType: ratchetTreeExtension.type, extensionData: state.tree.toBytes() });
  }
  return createGroupInfo(suiteOf(state), {
    groupContext: state.context,
    extensions,
    confirmationTag: state.confirmationTag,
    signer: signer.leafIndex,
    signaturePrivateKey: signer.signaturePrivateKey,
    ...(options.externalPub === false ? {} : { externalSecret: state.secrets.externalSecret }),
  });
}
