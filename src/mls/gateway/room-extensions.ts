/**
 * GroupContext extensions of a MIMI room group on the core's structs: `external_senders` as
 * RFC 9420's vector (the hub's key), `required_capabilities` (app_data_dictionary, AppDataUpdate,
 * basic credentials) and `app_data_dictionary` with the participant list (protocol-06 §7.5).
 * The component codecs are `../app-data.ts`'s.
 */
import type { ProviderDomain } from '../../common/ids';
import {
  type ComponentData,
  decodeParticipantList,
  encodeParticipantList,
  MimiComponentId,
  type Participant,
} from '../app-data';
import { appDataComponent } from '../core/group';
import {
  appDataDictionaryExtension,
  CredentialType,
  ExtensionType,
  externalSendersExtension,
  makeExtension,
  ProposalType,
  requiredCapabilitiesExtension,
  type Extension,
  type ExternalSender,
} from '../core/structs';

const utf8 = new TextEncoder();

/** The hub provider as an external sender: its signature key, credential `mimi://<domain>`. */
export function hubExternalSender(domain: ProviderDomain, signatureKey: Uint8Array): ExternalSender {
  return {
    signatureKey,
    credential: { credentialType: CredentialType.basic, identity: utf8.encode(`mimi://${domain}`) },
  };
}

/** Extensions of a new room group; `components`: more app_data_dictionary entries than the participant list. */
export function roomExtensions(
  hub: ExternalSender | readonly ExternalSender[],
  participants: readonly Participant[],
  components: readonly ComponentData[] = [],
): Extension[] {
  const senders = Array.isArray(hub) ? [...(hub as readonly ExternalSender[])] : [hub as ExternalSender];
  return [
    makeExtension(externalSendersExtension, senders),
    makeExtension(requiredCapabilitiesExtension, {
      extensionTypes: [ExtensionType.app_data_dictionary],
      proposalTypes: [ProposalType.app_data_update],
      credentialTypes: [CredentialType.basic],
    }),
    makeExtension(appDataDictionaryExtension, {
      componentData: [
        { componentId: MimiComponentId.ParticipantList, data: encodeParticipantList(participants) },
        ...components,
      ].sort((a, b) => a.componentId - b.componentId),
    }),
  ];
}

/** The participant list of GroupContext extensions (empty when the room has none). */
export function participantsOf(extensions: readonly Extension[]): Participant[] {
  const data = appDataComponent(extensions, MimiComponentId.ParticipantList);
  return data === undefined ? [] : decodeParticipantList(data);
}
