/** protocol-06 §5.8 Find internal address: `POST /identifierQuery/{domain}`. */
import { appDataDictionaryCodec, identifierUriCodec, type AppDataDictionary, type IdentifierUri } from './common';
import { codec, enumCodec, opaque, utf8, vectorOf } from '../../codec/tls-codec';

/** protocol-06 §5.8 SearchIdentifierType; `reserved(0)` is invalid. */
const SearchIdentifierType = {
  handle: 1,
  nick: 2,
  email: 3,
  phone: 4,
  partialName: 5,
  wholeProfile: 6,
  oidcStdClaim: 7,
  vcardField: 8,
} as const;
type SearchIdentifierType = keyof typeof SearchIdentifierType;
const searchIdentifierTypeCodec = enumCodec('SearchIdentifierType', SearchIdentifierType);

/**
 * protocol-06 §5.8 QueryElement (the draft's `select(type)` means `searchType`). Claim and
 * property names and the search value are UTF-8 text on the wire (`opaque<V>`).
 */
export type QueryElement = { searchValue: string } & (
  | { searchType: 'oidcStdClaim'; claimName: string }
  | { searchType: 'vcardField'; propertyName: string }
  | { searchType: 'handle' | 'nick' | 'email' | 'phone' | 'partialName' | 'wholeProfile' }
);

const queryElementCodec = codec<QueryElement>(
  'QueryElement',
  (w, v) => {
    w.field('searchType', searchIdentifierTypeCodec, v.searchType);
    if (v.searchType === 'oidcStdClaim') w.field('claimName', utf8, v.claimName);
    else if (v.searchType === 'vcardField') w.field('propertyName', utf8, v.propertyName);
    w.field('searchValue', utf8, v.searchValue);
  },
  (r): QueryElement => {
    const searchType = r.field('searchType', searchIdentifierTypeCodec);
    switch (searchType) {
      case 'oidcStdClaim': {
        const claimName = r.field('claimName', utf8);
        return { searchType, claimName, searchValue: r.field('searchValue', utf8) };
      }
      case 'vcardField': {
        const propertyName = r.field('propertyName', utf8);
        return { searchType, propertyName, searchValue: r.field('searchValue', utf8) };
      }
      case 'handle':
      case 'nick':
      case 'email':
      case 'phone':
      case 'partialName':
      case 'wholeProfile':
        return { searchType, searchValue: r.field('searchValue', utf8) };
    }
  },
);

/** protocol-06 §5.8 IdentifierRequest: all query elements must match (AND). */
export interface IdentifierRequest {
  queryElements: QueryElement[];
  idRequestExtensions: AppDataDictionary;
}

export const identifierRequestCodec = codec<IdentifierRequest>(
  'IdentifierRequest',
  (w, v) => {
    w.field('query_elements', vectorOf(queryElementCodec), v.queryElements);
    w.field('id_request_extensions', appDataDictionaryCodec, v.idRequestExtensions);
  },
  (r) => ({
    queryElements: r.field('query_elements', vectorOf(queryElementCodec)),
    idRequestExtensions: r.field('id_request_extensions', appDataDictionaryCodec),
  }),
);

/** protocol-06 §5.8 IdentifierQueryCode. */
const IdentifierQueryCode = {
  success: 0,
  notFound: 1,
  ambiguous: 2,
  forbidden: 3,
  unsupportedField: 4,
} as const;
type IdentifierQueryCode = keyof typeof IdentifierQueryCode;
const identifierQueryCodeCodec = enumCodec('IdentifierQueryCode', IdentifierQueryCode);

/** protocol-06 §5.8 FieldSource; `reserved(0)` is invalid. */
const FieldSource = { oidcStdClaim: 7, vcardField: 8 } as const;
type FieldSource = keyof typeof FieldSource;
const fieldSourceCodec = enumCodec('FieldSource', FieldSource);

/** protocol-06 §5.8 ProfileField (`string fieldName` is UTF-8 in an `opaque<V>`). */
export interface ProfileField {
  fieldSource: FieldSource;
  fieldName: string;
  fieldValue: Uint8Array;
}
const profileFieldCodec = codec<ProfileField>(
  'ProfileField',
  (w, v) => {
    w.field('fieldSource', fieldSourceCodec, v.fieldSource);
    w.field('fieldName', utf8, v.fieldName);
    w.field('fieldValue', opaque, v.fieldValue);
  },
  (r) => ({
    fieldSource: r.field('fieldSource', fieldSourceCodec),
    fieldName: r.field('fieldName', utf8),
    fieldValue: r.field('fieldValue', opaque),
  }),
);

/** protocol-06 §5.8 UserProfile. */
export interface UserProfile {
  stableUri: IdentifierUri;
  fields: ProfileField[];
}
const userProfileCodec = codec<UserProfile>(
  'UserProfile',
  (w, v) => {
    w.field('stableUri', identifierUriCodec, v.stableUri);
    w.field('fields', vectorOf(profileFieldCodec), v.fields);
  },
  (r) => ({
    stableUri: r.field('stableUri', identifierUriCodec),
    fields: r.field('fields', vectorOf(profileFieldCodec)),
  }),
);

/** protocol-06 §5.8 IdentifierResponse. */
export interface IdentifierResponse {
  responseCode: IdentifierQueryCode;
  uri: IdentifierUri[];
  foundProfiles: UserProfile[];
  idResponseExtensions: AppDataDictionary;
}

export const identifierResponseCodec = codec<IdentifierResponse>(
  'IdentifierResponse',
  (w, v) => {
    w.field('responseCode', identifierQueryCodeCodec, v.responseCode);
    w.field('uri', vectorOf(identifierUriCodec), v.uri);
    w.field('foundProfiles', vectorOf(userProfileCodec), v.foundProfiles);
    w.field('id_response_extensions', appDataDictionaryCodec, v.idResponseExtensions);
  },
  (r) => ({
    responseCode: r.field('responseCode', identifierQueryCodeCodec),
    uri: r.field('uri', vectorOf(identifierUriCodec)),
    foundProfiles: r.field('foundProfiles', vectorOf(userProfileCodec)),
    idResponseExtensions: r.field('id_response_extensions', appDataDictionaryCodec),
  }),
);
