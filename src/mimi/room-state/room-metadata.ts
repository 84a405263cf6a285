/** protocol-06 §7.6: the `room_metadata` component (`RoomMetaData`) and its codec. */
import { TlsReader, writeTls } from '../../codec/tls-codec';
import { readUri, readUtf8String, writeUri, writeUtf8String } from './primitives';

/** `RichDescription`: an empty media type means text/plain;charset=utf-8. */
interface RichDescription {
  readonly mediaType: string;
  readonly languageTag: string;
  readonly content: string;
}

/** `RoomMetaData` (protocol-06 §7.6). Empty strings stand for "not set". */
export interface RoomMetadata {
  readonly roomUri: string;
  readonly name: string;
  readonly descriptions: readonly RichDescription[];
  /** An https URI resolving to the avatar image, or empty. */
  readonly avatarUri: string;
  readonly subject: string;
  readonly mood: string;
}

/** The plain-text description (the room's topic), or '' when there is none. */
export function plainDescription(m: RoomMetadata): string {
  return m.descriptions.find((d) => d.mediaType === '' || d.mediaType.startsWith('text/plain'))?.content ?? '';
}

/** @throws CodecError (from the writer) when a string holds a NUL character. */
export function encodeRoomMetadata(m: RoomMetadata): Uint8Array {
  return writeTls((w) => {
    writeUri(w, m.roomUri);
    writeUtf8String(w, m.name);
    w.vector(m.descriptions, (v, d) => {
      v.utf8(d.mediaType);
      v.utf8(d.languageTag);
      v.utf8(d.content);
    });
    writeUri(w, m.avatarUri);
    writeUtf8String(w, m.subject);
    writeUtf8String(w, m.mood);
  });
}

/** @throws CodecError on malformed bytes, invalid UTF-8 or a NUL in a UTF8String. */
export function decodeRoomMetadata(bytes: Uint8Array): RoomMetadata {
  const r = new TlsReader(bytes, 'RoomMetaData');
  const roomUri = r.field('room_uri', readUri);
  const name = r.field('room_name', readUtf8String);
  const descriptions = r.field('room_descriptions', (x) =>
    x.vector((d) => ({
      mediaType: d.field('media_type', (y) => y.utf8()),
      languageTag: d.field('language_tag', (y) => y.utf8()),
      content: d.field('description_content', (y) => y.utf8()),
    })),
  );
  const avatarUri = r.field('room_avatar', readUri);
  const subject = r.field('room_subject', readUtf8String);
  const mood = r.field('room_mood', readUtf8String);
  r.done();
  return { roomUri, name, descriptions, avatarUri, subject, mood };
}
