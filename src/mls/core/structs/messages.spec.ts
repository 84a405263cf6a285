import { decodeAll, encodeValue, type Codec } from '../../../codec/tls-codec';
import { hex, loadMlsVectors, toHex, VectorTally } from '../../../../test/support/mls-vectors';
import {
  addCodec,
  appDataDictionaryExtension,
  commitCodec,
  externalInitCodec,
  externalPubExtension,
  externalSendersExtension,
  findExtension,
  groupContextExtensionsCodec,
  groupSecretsCodec,
  makeExtension,
  mlsMessageCodec,
  preSharedKeyCodec,
  ratchetTreeCodec,
  ratchetTreeExtension,
  reInitCodec,
  removeCodec,
  requiredCapabilitiesExtension,
  updateCodec,
  WireFormat,
  ContentType,
  applicationIdExtension,
  type Extension,
  type ExtensionKind,
  type MLSMessage,
} from './index';

/** `messages` (test-vectors README "Messages"): every field decodes and re-encodes to the same bytes. */
interface MessagesVector {
  mls_welcome: string;
  mls_group_info: string;
  mls_key_package: string;
  ratchet_tree: string;
  group_secrets: string;
  add_proposal: string;
  update_proposal: string;
  remove_proposal: string;
  pre_shared_key_proposal: string;
  re_init_proposal: string;
  external_init_proposal: string;
  group_context_extensions_proposal: string;
  commit: string;
  public_message_application: string;
  public_message_proposal: string;
  public_message_commit: string;
  private_message: string;
}

function roundTrip<T>(field: string, hexBytes: string, c: Codec<T>): T {
  const value = decodeAll(hex(hexBytes), c);
  const again = toHex(encodeValue(value, c));
  if (again !== hexBytes) throw new Error(`${field}: re-encoding differs (${c.name})`);
  return value;
}

function mlsMessage(field: string, hexBytes: string, wireFormat: WireFormat): MLSMessage {
  const m = roundTrip(field, hexBytes, mlsMessageCodec);
  if (m.wireFormat !== wireFormat) throw new Error(`${field}: wire_format ${m.wireFormat}, expected ${wireFormat}`);
  return m;
}

const KINDS: ExtensionKind<unknown>[] = [
  applicationIdExtension,
  ratchetTreeExtension,
  requiredCapabilitiesExtension,
  externalPubExtension,
  externalSendersExtension,
  appDataDictionaryExtension,
] as ExtensionKind<unknown>[];

/** Typed extension payloads found in the vectors must round-trip too. Returns how many were checked. */
function checkExtensions(extensions: readonly Extension[]): number {
  let n = 0;
  for (const kind of KINDS) {
    const value = findExtension(extensions, kind);
    if (value === undefined) continue;
    const ext = extensions.find((e) => e.extensionType === kind.type)!;
    expect(toHex(makeExtension(kind, value).extensionData)).toBe(toHex(ext.extensionData));
    n++;
  }
  return n;
}

describe('messages vectors', () => {
  const vectors = loadMlsVectors<MessagesVector>('messages');
  const tally = new VectorTally('messages');
  afterAll(() => tally.report());

  it('decode every field and re-encode it byte for byte', () => {
    let typedExtensions = 0;
    for (const v of vectors) {
      const welcome = mlsMessage('mls_welcome', v.mls_welcome, WireFormat.mls_welcome);
      const groupInfo = mlsMessage('mls_group_info', v.mls_group_info, WireFormat.mls_group_info);
      const keyPackage = mlsMessage('mls_key_package', v.mls_key_package, WireFormat.mls_key_package);
      expect(welcome.wireFormat === WireFormat.mls_welcome && welcome.welcome.secrets.length).toBeGreaterThan(0);
      if (groupInfo.wireFormat === WireFormat.mls_group_info) {
        typedExtensions += checkExtensions(groupInfo.groupInfo.extensions);
        typedExtensions += checkExtensions(groupInfo.groupInfo.groupContext.extensions);
      }
      if (keyPackage.wireFormat === WireFormat.mls_key_package) {
        typedExtensions += checkExtensions(keyPackage.keyPackage.extensions);
      }

      roundTrip('ratchet_tree', v.ratchet_tree, ratchetTreeCodec);
      roundTrip('group_secrets', v.group_secrets, groupSecretsCodec);
      roundTrip('add_proposal', v.add_proposal, addCodec);
      roundTrip('update_proposal', v.update_proposal, updateCodec);
      roundTrip('remove_proposal', v.remove_proposal, removeCodec);
      roundTrip('pre_shared_key_proposal', v.pre_shared_key_proposal, preSharedKeyCodec);
      roundTrip('re_init_proposal', v.re_init_proposal, reInitCodec);
      roundTrip('external_init_proposal', v.external_init_proposal, externalInitCodec);
      const gce = roundTrip(
        'group_context_extensions_proposal',
        v.group_context_extensions_proposal,
        groupContextExtensionsCodec,
      );
      typedExtensions += checkExtensions(gce.extensions);
      roundTrip('commit', v.commit, commitCodec);

      const expectContent = (field: string, hexBytes: string, contentType: ContentType): void => {
        const m = mlsMessage(field, hexBytes, WireFormat.mls_public_message);
        if (m.wireFormat !== WireFormat.mls_public_message) return;
        expect(m.publicMessage.content.contentType).toBe(contentType);
      };
      expectContent('public_message_application', v.public_message_application, ContentType.application);
      expectContent('public_message_proposal', v.public_message_proposal, ContentType.proposal);
      expectContent('public_message_commit', v.public_message_commit, ContentType.commit);
      mlsMessage('private_message', v.private_message, WireFormat.mls_private_message);
      tally.pass();
    }
    process.stdout.write(`messages: ${typedExtensions} typed extension payloads round-tripped\n`);
    expect(tally.passed).toBe(vectors.length);
  });
});
