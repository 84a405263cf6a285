/** XML namespaces the XMPP bridge speaks, named after their specifications. */
export const NS = {
  /** XEP-0045 Multi-User Chat. */
  MUC: 'http://jabber.org/protocol/muc',
  MUC_USER: 'http://jabber.org/protocol/muc#user',
  MUC_ADMIN: 'http://jabber.org/protocol/muc#admin',
  MUC_OWNER: 'http://jabber.org/protocol/muc#owner',
  /** XEP-0249 Direct MUC Invitations. */
  CONFERENCE: 'jabber:x:conference',
  /** XEP-0004 Data Forms. */
  DATA: 'jabber:x:data',
  /** XEP-0030 Service Discovery. */
  DISCO_INFO: 'http://jabber.org/protocol/disco#info',
  /** XEP-0199 XMPP Ping (also XEP-0410 MUC self-ping). */
  PING: 'urn:xmpp:ping',
  /** XEP-0359 Unique and Stable Stanza IDs. */
  SID: 'urn:xmpp:sid:0',
  /** XEP-0421 Anonymous unique occupant identifiers. */
  OCCUPANT_ID: 'urn:xmpp:occupant-id:0',
  /** XEP-0308 Last Message Correction. */
  CORRECT: 'urn:xmpp:message-correct:0',
  /** XEP-0424 Message Retraction (current and the fastening-based 0.x form). */
  RETRACT: 'urn:xmpp:message-retract:1',
  RETRACT_0: 'urn:xmpp:message-retract:0',
  FASTEN: 'urn:xmpp:fasten:0',
  /** XEP-0425 Message Moderation (1.0, and the fastening-based 0.2 of Debian's mod_muc_moderation). */
  MODERATE: 'urn:xmpp:message-moderate:1',
  MODERATE_0: 'urn:xmpp:message-moderate:0',
  /** XEP-0444 Message Reactions. */
  REACTIONS: 'urn:xmpp:reactions:0',
  /** XEP-0461 Message Replies. */
  REPLY: 'urn:xmpp:reply:0',
  /** XEP-0372 References (mentions). */
  REFERENCE: 'urn:xmpp:reference:0',
  /** XEP-0428 Fallback Indication. */
  FALLBACK: 'urn:xmpp:fallback:0',
  /** XEP-0363 HTTP File Upload. */
  HTTP_UPLOAD: 'urn:xmpp:http:upload:0',
  /** XEP-0066 Out of Band Data. */
  OOB: 'jabber:x:oob',
  /** XEP-0447 Stateless file sharing, with XEP-0446 file metadata and XEP-0300 hashes. */
  SFS: 'urn:xmpp:sfs:0',
  FILE_METADATA: 'urn:xmpp:file:metadata:0',
  HASHES: 'urn:xmpp:hashes:2',
  URL_DATA: 'http://jabber.org/protocol/url-data',
  /** XEP-0334 Message Processing Hints. */
  HINTS: 'urn:xmpp:hints',
  /** XEP-0333 chat markers. */
  CHAT_MARKERS: 'urn:xmpp:chat-markers:0',
  /** XEP-0054 vcard-temp, and XEP-0153 its avatar hash in presence. */
  VCARD: 'vcard-temp',
  VCARD_UPDATE: 'vcard-temp:x:update',
  /** XEP-0172 User Nickname. */
  NICK: 'http://jabber.org/protocol/nick',
  /** XEP-0203 Delayed Delivery. */
  DELAY: 'urn:xmpp:delay',
  /** XEP-0313 Message Archive Management, XEP-0297 forwarding, XEP-0059 result set management. */
  MAM: 'urn:xmpp:mam:2',
  FORWARD: 'urn:xmpp:forward:0',
  RSM: 'http://jabber.org/protocol/rsm',
  /** RFC 6120 §8.3 stanza error conditions. */
  STANZAS: 'urn:ietf:params:xml:ns:xmpp-stanzas',
  /** XEP-0198 Stream Management. */
  SM: 'urn:xmpp:sm:3',
} as const;
