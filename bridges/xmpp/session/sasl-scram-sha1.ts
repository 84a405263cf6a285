/**
 * SASL SCRAM-SHA-1 (RFC 5802) for the relay account, as a mechanism class of the `saslmechanisms`
 * factory that @xmpp/sasl 0.13 uses. Needed because @xmpp/sasl 0.13 calls `response()`
 * synchronously, while the `sasl-scram-sha-1` release it resolves to (1.4) answers the server's
 * challenge with a Promise: the client then sends an empty response and the server fails the
 * exchange with <malformed-request/>. Strings crossing the factory are "binary" (one char per
 * byte) because @xmpp/base64 encodes them that way.
 *
 * Not done: SASLprep of the password (RFC 5802 §5.1; ASCII passwords are unaffected), checking
 * the server signature (@xmpp/sasl 0.13 does not hand the <success/> data to the mechanism),
 * channel binding (-PLUS).
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type { XmppClient } from '@xmpp/client';

const GS2_HEADER = 'n,,';

function toBinary(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}

function fromBinary(s: string): string {
  return Buffer.from(s, 'latin1').toString('utf8');
}

/** RFC 5802 §5.1 saslname: '=' and ',' escaped. */
function saslName(s: string): string {
  return s.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

function hmac(key: Buffer, data: string): Buffer {
  return createHmac('sha1', key).update(data, 'utf8').digest();
}

function parseAttributes(msg: string): Map<string, string> {
  const attrs = new Map<string, string>();
  for (const part of msg.split(',')) {
    const eq = part.indexOf('=');
    if (eq === 1) attrs.set(part[0]!, part.slice(2));
  }
  return attrs;
}

/** The client side of one SCRAM-SHA-1 exchange. */
export class ScramSha1Mechanism {
  static readonly mechanismName = 'SCRAM-SHA-1';
  readonly name = ScramSha1Mechanism.mechanismName;
  readonly clientFirst = true;
  private stage: 'first' | 'final' | 'done' = 'first';
  private clientFirstBare = '';
  private serverFirst = '';

  constructor(private readonly nonce: string = randomBytes(18).toString('base64')) {}

  /** The next message to send (a binary string), given the credentials. */
  response(cred: { username: string; password: string }): string {
    if (this.stage === 'first') {
      this.clientFirstBare = `n=${saslName(cred.username)},r=${this.nonce}`;
      this.stage = 'final';
      return toBinary(GS2_HEADER + this.clientFirstBare);
    }
    if (this.stage === 'final') {
      this.stage = 'done';
      return toBinary(this.clientFinal(cred.password));
    }
    return '';
  }

  /** The server's challenge (a binary string). */
  challenge(chal: string): this {
    if (this.stage === 'final' && !this.serverFirst) this.serverFirst = fromBinary(chal);
    return this;
  }

  private clientFinal(password: string): string {
    const attrs = parseAttributes(this.serverFirst);
    const nonce = attrs.get('r');
    const salt = attrs.get('s');
    const iterations = Number(attrs.get('i'));
    if (!nonce || !nonce.startsWith(this.nonce) || !salt || !Number.isInteger(iterations) || iterations < 1) {
      throw new Error('SCRAM-SHA-1: malformed server-first-message');
    }
    const saltedPassword = pbkdf2Sync(
      Buffer.from(password, 'utf8'),
      Buffer.from(salt, 'base64'),
      iterations,
      20,
      'sha1',
    );
    const clientKey = hmac(saltedPassword, 'Client Key');
    const storedKey = createHash('sha1').update(clientKey).digest();
    const withoutProof = `c=${Buffer.from(GS2_HEADER).toString('base64')},r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const signature = hmac(storedKey, authMessage);
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ signature[i]!;
    return `${withoutProof},p=${proof.toString('base64')}`;
  }
}

/** A factory-compatible constructor (the factory calls `new entry.mech()`). */
function ScramSha1Factory(this: unknown): ScramSha1Mechanism {
  return new ScramSha1Mechanism();
}
(ScramSha1Factory as unknown as { prototype: { name: string } }).prototype.name = ScramSha1Mechanism.mechanismName;

/**
 * Make `client` authenticate with our SCRAM-SHA-1, then PLAIN, and nothing else. @xmpp/client 0.13
 * offers no API for this; the factory is the object its `sasl.use` returns.
 */
export function installSaslMechanisms(client: XmppClient): void {
  const factory = client.sasl.use('X-MIMI-PROBE', function probe() {});
  const plain = factory._mechs.find((m) => m.name === 'PLAIN');
  factory._mechs = [{ name: ScramSha1Mechanism.mechanismName, mech: ScramSha1Factory }];
  if (plain) factory._mechs.push(plain);
}
