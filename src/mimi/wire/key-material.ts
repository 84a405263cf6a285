/** protocol-06 §5.2 Fetch Key Material: `POST /keyMaterial/{targetUser}`. */
import {
  cipherSuiteCodec,
  identifierUriCodec,
  protocolCodec,
  signaturePublicKeyCodec,
  type CipherSuite,
  type IdentifierUri,
  type Protocol,
} from './common';
import {
  capabilitiesCodec,
  credentialCodec,
  keyPackageCodec,
  requiredCapabilitiesCodec,
  type CapabilitiesBytes,
  type CredentialBytes,
  type KeyPackageBytes,
  type RequiredCapabilitiesBytes,
} from './mls-values';
import { codec, enumCodec, opaque, optionalOf, vectorOf, type TlsReader, type TlsWriter } from '../../codec/tls-codec';

/** The fields shared by KeyMaterialRequest and KeyMaterialRequestTBS. */
export interface KeyMaterialRequestTBS {
  protocol: Protocol;
  requestingUser: IdentifierUri;
  targetUser: IdentifierUri;
  /** Required on the wire; the empty string when the request is not made for a room (see README). */
  roomId: IdentifierUri;
  acceptableCiphersuites: CipherSuite[];
  requiredCapabilities: RequiredCapabilitiesBytes;
  requesterSignatureKey: Uint8Array;
  requesterCredential: CredentialBytes;
}

export interface KeyMaterialRequest extends KeyMaterialRequestTBS {
  /** SignWithLabel(requesterSignatureKey, "KeyMaterialRequestTBS", KeyMaterialRequestTBS) */
  keyMaterialRequestSignature: Uint8Array;
}

function writeTbs(w: TlsWriter, v: KeyMaterialRequestTBS): void {
  w.field('protocol', protocolCodec, v.protocol);
  w.field('requestingUser', identifierUriCodec, v.requestingUser);
  w.field('targetUser', identifierUriCodec, v.targetUser);
  w.field('roomId', identifierUriCodec, v.roomId);
  switch (v.protocol) {
    case 'mls10':
      w.field('acceptableCiphersuites', vectorOf(cipherSuiteCodec), v.acceptableCiphersuites);
      w.field('requiredCapabilities', requiredCapabilitiesCodec, v.requiredCapabilities);
      w.field('requesterSignatureKey', signaturePublicKeyCodec, v.requesterSignatureKey);
      w.field('requesterCredential', credentialCodec, v.requesterCredential);
      break;
  }
}

function readTbs(r: TlsReader): KeyMaterialRequestTBS {
  const protocol = r.field('protocol', protocolCodec);
  const requestingUser = r.field('requestingUser', identifierUriCodec);
  const targetUser = r.field('targetUser', identifierUriCodec);
  const roomId = r.field('roomId', identifierUriCodec);
  switch (protocol) {
    case 'mls10':
      return {
        protocol,
        requestingUser,
        targetUser,
        roomId,
        acceptableCiphersuites: r.field('acceptableCiphersuites', vectorOf(cipherSuiteCodec)),
        requiredCapabilities: r.field('requiredCapabilities', requiredCapabilitiesCodec),
        requesterSignatureKey: r.field('requesterSignatureKey', signaturePublicKeyCodec),
        requesterCredential: r.field('requesterCredential', credentialCodec),
      };
  }
}

/**
 * The content signed into `key_material_request_signature`. A KeyMaterialRequest can be passed
 * as is: its signature is not written.
 */
export const keyMaterialRequestTbsCodec = codec<KeyMaterialRequestTBS>('KeyMaterialRequestTBS', writeTbs, readTbs);

export const keyMaterialRequestCodec = codec<KeyMaterialRequest>(
  'KeyMaterialRequest',
  (w, v) => {
    writeTbs(w, v);
    w.field('key_material_request_signature', opaque, v.keyMaterialRequestSignature);
  },
  (r) => {
    const tbs = readTbs(r);
    return { ...tbs, keyMaterialRequestSignature: r.field('key_material_request_signature', opaque) };
  },
);

/** protocol-06 §5.2 KeyMaterialUserCode. */
const KeyMaterialUserCode = {
  success: 0,
  partialSuccess: 1,
  incompatibleProtocol: 2,
  noCompatibleMaterial: 3,
  userUnknown: 4,
  noConsent: 5,
  noConsentForThisRoom: 6,
  userDeleted: 7,
} as const;
type KeyMaterialUserCode = keyof typeof KeyMaterialUserCode;
const keyMaterialUserCodeCodec = enumCodec('KeyMaterialUserCode', KeyMaterialUserCode);

/** protocol-06 §5.2 KeyMaterialClientCode. */
const KeyMaterialClientCode = { success: 0, keyMaterialExhausted: 1, nothingCompatible: 2 } as const;
type KeyMaterialClientCode = keyof typeof KeyMaterialClientCode;
const keyMaterialClientCodeCodec = enumCodec('KeyMaterialClientCode', KeyMaterialClientCode);

/** protocol-06 §5.2 ClientKeyMaterial (for mls10, the only protocol). */
export type ClientKeyMaterial =
  | { clientStatus: 'success'; clientUri: IdentifierUri; keyPackage: KeyPackageBytes }
  | { clientStatus: 'keyMaterialExhausted'; clientUri: IdentifierUri }
  | { clientStatus: 'nothingCompatible'; clientUri: IdentifierUri; clientCapabilities?: CapabilitiesBytes };

/** ClientKeyMaterial selects on the enclosing response's `protocol`, so its codec takes it. */
function clientKeyMaterialCodec(protocol: Protocol) {
  const capsCodec = optionalOf(capabilitiesCodec);
  return codec<ClientKeyMaterial>(
    'ClientKeyMaterial',
    (w, v) => {
      w.field('clientStatus', keyMaterialClientCodeCodec, v.clientStatus);
      w.field('clientUri', identifierUriCodec, v.clientUri);
      switch (protocol) {
        case 'mls10':
          switch (v.clientStatus) {
            case 'success':
              w.field('keyPackage', keyPackageCodec, v.keyPackage);
              break;
            case 'nothingCompatible':
              w.field('clientCapabilities', capsCodec, v.clientCapabilities);
              break;
            case 'keyMaterialExhausted':
              break;
          }
          break;
      }
    },
    (r): ClientKeyMaterial => {
      const clientStatus = r.field('clientStatus', keyMaterialClientCodeCodec);
      const clientUri = r.field('clientUri', identifierUriCodec);
      switch (protocol) {
        case 'mls10':
          switch (clientStatus) {
            case 'success':
              return { clientStatus, clientUri, keyPackage: r.field('keyPackage', keyPackageCodec) };
            case 'nothingCompatible': {
              const clientCapabilities = r.field('clientCapabilities', capsCodec);
              return clientCapabilities === undefined
                ? { clientStatus, clientUri }
                : { clientStatus, clientUri, clientCapabilities };
            }
            case 'keyMaterialExhausted':
              return { clientStatus, clientUri };
          }
      }
    },
  );
}

/** protocol-06 §5.2 KeyMaterialResponse. */
export interface KeyMaterialResponse {
  protocol: Protocol;
  userStatus: KeyMaterialUserCode;
  userUri: IdentifierUri;
  clients: ClientKeyMaterial[];
}

export const keyMaterialResponseCodec = codec<KeyMaterialResponse>(
  'KeyMaterialResponse',
  (w, v) => {
    w.field('protocol', protocolCodec, v.protocol);
    w.field('userStatus', keyMaterialUserCodeCodec, v.userStatus);
    w.field('userUri', identifierUriCodec, v.userUri);
    w.field('clients', vectorOf(clientKeyMaterialCodec(v.protocol)), v.clients);
  },
  (r) => {
    const protocol = r.field('protocol', protocolCodec);
    return {
      protocol,
      userStatus: r.field('userStatus', keyMaterialUserCodeCodec),
      userUri: r.field('userUri', identifierUriCodec),
      clients: r.field('clients', vectorOf(clientKeyMaterialCodec(protocol))),
    };
  },
);
