/** protocol-06 §5.7 Convey explicit consent: `POST /requestConsent/{targetDomain}`, `POST /updateConsent/{requesterDomain}`. */
import { appDataDictionaryCodec, identifierUriCodec, type AppDataDictionary, type IdentifierUri } from './common';
import { keyPackageCodec, type KeyPackageBytes } from './mls-values';
import { codec, enumCodec, optionalOf, vectorOf, type TlsReader, type TlsWriter } from '../../codec/tls-codec';

/** protocol-06 §5.7 ConsentOperation. */
const ConsentOperation = { cancel: 0, request: 1, grant: 2, revoke: 3 } as const;
type ConsentOperation = keyof typeof ConsentOperation;
const consentOperationCodec = enumCodec('ConsentOperation', ConsentOperation);

/**
 * protocol-06 §5.7 ConsentScope. The draft's `RoomId` type is not defined anywhere; we read it
 * as an IdentifierUri (the room URI), like the other room references.
 */
export interface ConsentScope {
  requesterUri: IdentifierUri;
  targetUri: IdentifierUri;
  roomId?: IdentifierUri;
}

const optionalRoomId = optionalOf(identifierUriCodec);

function writeScope(w: TlsWriter, v: ConsentScope): void {
  w.field('requesterUri', identifierUriCodec, v.requesterUri);
  w.field('targetUri', identifierUriCodec, v.targetUri);
  w.field('roomId', optionalRoomId, v.roomId);
}

function readScope(r: TlsReader): ConsentScope {
  const requesterUri = r.field('requesterUri', identifierUriCodec);
  const targetUri = r.field('targetUri', identifierUriCodec);
  const roomId = r.field('roomId', optionalRoomId);
  return roomId === undefined ? { requesterUri, targetUri } : { requesterUri, targetUri, roomId };
}

export const consentScopeCodec = codec<ConsentScope>('ConsentScope', writeScope, readScope);

/** protocol-06 §5.7 ConsentEntry, the body of both requestConsent and updateConsent. */
export type ConsentEntry = ConsentScope & { consentExtensions: AppDataDictionary } & (
    | { consentOperation: 'grant'; /** may be empty */ clientKeyPackages: KeyPackageBytes[] }
    | { consentOperation: 'cancel' | 'request' | 'revoke' }
  );

const keyPackageList = vectorOf(keyPackageCodec);

export const consentEntryCodec = codec<ConsentEntry>(
  'ConsentEntry',
  (w, v) => {
    w.field('consentOperation', consentOperationCodec, v.consentOperation);
    writeScope(w, v);
    if (v.consentOperation === 'grant') w.field('clientKeyPackages', keyPackageList, v.clientKeyPackages);
    w.field('consent_extensions', appDataDictionaryCodec, v.consentExtensions);
  },
  (r): ConsentEntry => {
    const consentOperation = r.field('consentOperation', consentOperationCodec);
    const scope = readScope(r);
    if (consentOperation === 'grant') {
      const clientKeyPackages = r.field('clientKeyPackages', keyPackageList);
      const consentExtensions = r.field('consent_extensions', appDataDictionaryCodec);
      return { consentOperation, ...scope, clientKeyPackages, consentExtensions };
    }
    return { consentOperation, ...scope, consentExtensions: r.field('consent_extensions', appDataDictionaryCodec) };
  },
);
