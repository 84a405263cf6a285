/** RFC 9420 §6 MLSMessage: the five RFC 9420 wire formats (any other is a CodecError). */
import { CodecError } from '../../../common/errors';
import { codec, decodeAll, type Codec } from '../../../codec/tls-codec';
import { protocolVersionCodec, type ProtocolVersion } from './basics';
import { publicMessageCodec, WireFormat, wireFormatCodec, type PublicMessage } from './framing';
import { privateMessageCodec, type PrivateMessage } from './private-message';
import { keyPackageCodec, type KeyPackage } from './tree';
import { groupInfoCodec, welcomeCodec, type GroupInfo, type Welcome } from './welcome';

type WF = typeof WireFormat;
export type MLSMessageBody =
  | { wireFormat: WF['mls_public_message']; publicMessage: PublicMessage }
  | { wireFormat: WF['mls_private_message']; privateMessage: PrivateMessage }
  | { wireFormat: WF['mls_welcome']; welcome: Welcome }
  | { wireFormat: WF['mls_group_info']; groupInfo: GroupInfo }
  | { wireFormat: WF['mls_key_package']; keyPackage: KeyPackage };
export type MLSMessage = { version: ProtocolVersion } & MLSMessageBody;

export const mlsMessageCodec: Codec<MLSMessage> = codec<MLSMessage>(
  'MLSMessage',
  (w, v) => {
    w.field('version', protocolVersionCodec, v.version);
    w.field('wire_format', wireFormatCodec, v.wireFormat);
    switch (v.wireFormat) {
      case WireFormat.mls_public_message:
        return w.field('public_message', publicMessageCodec, v.publicMessage);
      case WireFormat.mls_private_message:
        return w.field('private_message', privateMessageCodec, v.privateMessage);
      case WireFormat.mls_welcome:
        return w.field('welcome', welcomeCodec, v.welcome);
      case WireFormat.mls_group_info:
        return w.field('group_info', groupInfoCodec, v.groupInfo);
      case WireFormat.mls_key_package:
        return w.field('key_package', keyPackageCodec, v.keyPackage);
    }
  },
  (r): MLSMessage => {
    const version = r.field('version', protocolVersionCodec);
    const wireFormat = r.field('wire_format', wireFormatCodec);
    switch (wireFormat) {
      case WireFormat.mls_public_message:
        return { version, wireFormat, publicMessage: r.field('public_message', publicMessageCodec) };
      case WireFormat.mls_private_message:
        return { version, wireFormat, privateMessage: r.field('private_message', privateMessageCodec) };
      case WireFormat.mls_welcome:
        return { version, wireFormat, welcome: r.field('welcome', welcomeCodec) };
      case WireFormat.mls_group_info:
        return { version, wireFormat, groupInfo: r.field('group_info', groupInfoCodec) };
      case WireFormat.mls_key_package:
        return { version, wireFormat, keyPackage: r.field('key_package', keyPackageCodec) };
    }
  },
);

/** The MLSMessage variant of wire format W. */
export type MLSMessageOf<W extends WireFormat> = Extract<MLSMessage, { wireFormat: W }>;

/**
 * Decode `bytes` as exactly one MLSMessage of `wireFormat` (trailing bytes, an unknown wire
 * format and a different one are all CodecErrors).
 */
export function decodeMlsMessageAs<W extends WireFormat>(bytes: Uint8Array, wireFormat: W): MLSMessageOf<W> {
  const m = decodeAll(bytes, mlsMessageCodec);
  if (m.wireFormat !== wireFormat) {
    throw new CodecError(`MLSMessage: wire_format ${m.wireFormat} where ${wireFormat} was expected`);
  }
  return m as MLSMessageOf<W>;
}
