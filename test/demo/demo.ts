/**
 * `npm run demo` (scripts/demo.sh builds and installs first): the gateway's main job in one
 * command. Starts the pinned Synapse and a Prosody on loopback ports, gateway A (Matrix) and
 * gateway B (XMPP) talking MIMI over mutual TLS (test/e2e/support/headline-env.ts); creates a
 * Matrix room and a MUC, links each through MIMI to the other side, and plays a short scripted
 * conversation both ways, printing what each person's client shows:
 *
 *   [matrix @alice:synapse.test] <alice> Hi Bob! …
 *   [xmpp bob@localhost] <alice> Hi Bob! …
 *
 * Then it stays up and prints how to join in with any Matrix or XMPP client; Ctrl-C (SIGINT) or
 * SIGTERM stops everything it started. `--once` (or MIMI_DEMO_ONCE=1) stops after the transcript.
 * The last line says whether any process it started is still running (exit code 1 if so).
 */
import type { ClientEvent } from '../servers/synapse/synapse-server';
import { NS } from '../../bridges/xmpp/protocol/namespaces';
import type { XmlElement } from '../../bridges/xmpp/protocol/xml';
import { type EnvProcess, HeadlineEnv } from '../e2e/support/headline-env';
import { MatrixSide, XmppSide, nickOf, redactedBy, relatesTo, stanzaIdOf } from '../e2e/support/headline-sides';
import { mucJid } from '../e2e/support/xmpp-mimi-env';

const BOB = { username: 'bob', password: 'bob-pw' };
const GUEST_XMPP = { username: 'guest', password: 'guest-pw' };
const GUEST_MATRIX = 'guest';

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** How alice's Matrix client shows an event of her room. */
class MatrixView {
  constructor(readonly side: MatrixSide) {}

  private label(): string {
    return `[matrix ${this.side.userId}]`;
  }

  private bodyOf(eventId: string): string {
    const e = this.side.seen((x) => x.event_id === eventId)[0];
    return e ? String(e.content['body']) : eventId;
  }

  async show(e: ClientEvent): Promise<void> {
    const who = `<${await this.side.displayName(e.sender)}>`;
    const rel = relatesTo(e);
    if (e.type === 'm.reaction') {
      out(`${this.label()} ${who} reacted ${String(rel?.['key'])} to "${this.bodyOf(String(rel?.['event_id']))}"`);
    } else if (e.type === 'm.room.redaction') {
      out(`${this.label()} ${who} deleted "${this.bodyOf(redactedBy(e) ?? '')}"`);
    } else if (rel?.['rel_type'] === 'm.replace') {
      const edited = (e.content['m.new_content'] as { body?: string } | undefined)?.body;
      out(`${this.label()} ${who} edited "${this.bodyOf(String(rel['event_id']))}" → "${edited}"`);
    } else {
      const replyTo = (rel?.['m.in_reply_to'] as { event_id?: string } | undefined)?.event_id;
      const prefix = replyTo !== undefined ? `(replying to "${this.bodyOf(replyTo)}") ` : '';
      out(`${this.label()} ${who} ${prefix}${String(e.content['body'])}`);
    }
  }

  /** Waits for the event `id` (alice's own), and shows it. */
  async own(id: string): Promise<ClientEvent> {
    const e = await this.side.sees((x) => x.event_id === id);
    await this.show(e);
    return e;
  }

  /** Waits for an event from someone else matching `pred`, and shows it. */
  async other(pred: (e: ClientEvent) => boolean): Promise<ClientEvent> {
    const e = await this.side.sees((x) => x.sender !== this.side.userId && pred(x));
    await this.show(e);
    return e;
  }
}

/** A body as XMPP clients that know XEP-0461 show it: without a reply's XEP-0428 fallback quote. */
function visibleBody(el: XmlElement): string {
  const fallback = el
    .getChildren('fallback', NS.FALLBACK)
    .find((f) => f.attrs.for === NS.REPLY)
    ?.getChild('body');
  return [...(el.getChildText('body') ?? '')]
    .slice(Number(fallback?.attrs.start === '0' ? (fallback.attrs.end ?? 0) : 0))
    .join('');
}

/** How bob's XMPP client shows a groupchat of his MUC. */
class XmppView {
  constructor(readonly side: XmppSide) {}

  private label(): string {
    return `[xmpp ${this.side.jid}]`;
  }

  private bodyOf(id: string): string {
    const el = this.side.user
      .groupchats(this.side.muc)
      .find((m) => m.attrs.id === id || stanzaIdOf(m, this.side.muc) === id);
    return el ? visibleBody(el) : id;
  }

  show(el: XmlElement): void {
    const who = `<${nickOf(el)}>`;
    const reactions = el.getChild('reactions', NS.REACTIONS);
    const replace = el.getChild('replace', NS.CORRECT);
    const retract = el.getChild('retract', NS.RETRACT);
    const reply = el.getChild('reply', NS.REPLY);
    if (reactions) {
      const emojis = reactions.getChildren('reaction').map((r) => r.getText());
      out(`${this.label()} ${who} reacted ${emojis.join(' ')} to "${this.bodyOf(reactions.attrs.id ?? '')}"`);
    } else if (retract) {
      out(`${this.label()} ${who} deleted "${this.bodyOf(retract.attrs.id ?? '')}"`);
    } else if (replace) {
      out(`${this.label()} ${who} edited "${this.bodyOf(replace.attrs.id ?? '')}" → "${el.getChildText('body')}"`);
    } else {
      const text = visibleBody(el);
      const prefix = reply ? `(replying to "${this.bodyOf(reply.attrs.id ?? '')}") ` : '';
      out(`${this.label()} ${who} ${prefix}${text}`);
    }
  }

  /** bob's own message as the MUC reflected it to him. */
  own(id: string): XmlElement {
    const el = this.side.user.groupchats(this.side.muc).find((m) => m.attrs.id === id)!;
    this.show(el);
    return el;
  }

  /** Waits for a groupchat from someone else matching `pred`, from `since` on, and shows it. */
  async other(pred: (el: XmlElement) => boolean, what: string, since: number): Promise<XmlElement> {
    const el = await this.side.sees(pred, what, since);
    this.show(el);
    return el;
  }
}

const hasBody = (text: string) => (el: XmlElement) => (el.getChildText('body') ?? '').endsWith(text);
const matrixBody = (text: string) => (e: ClientEvent) => e.type === 'm.room.message' && e.content['body'] === text;

/** The scripted conversation in one room: alice on Matrix, bob on XMPP. */
async function converse(
  m: MatrixView,
  x: XmppView,
  lines: { alice: string; bob: string; edit: string },
): Promise<void> {
  const since = x.side.mark();
  const aliceId = await m.side.say(lines.alice);
  await m.own(aliceId);
  const aliceOnXmpp = await x.other(hasBody(lines.alice), "alice's message", since);

  const bobSent = await x.side.reply(
    { stanzaId: stanzaIdOf(aliceOnXmpp, x.side.muc)!, nick: nickOf(aliceOnXmpp), text: lines.alice },
    lines.bob,
  );
  x.own(bobSent.id);
  const bobOnMatrix = await m.other(matrixBody(lines.bob));

  await m.own(await m.side.react(bobOnMatrix.event_id, '👍'));
  await x.other((el) => el.getChild('reactions', NS.REACTIONS) !== undefined, "alice's reaction", since);

  await m.own(await m.side.edit(aliceId, lines.edit));
  await x.other((el) => el.getChild('replace', NS.CORRECT) !== undefined, "alice's edit", since);
}

/** The mirror room's conversation the other way round: bob starts, alice answers. */
async function converseFromXmpp(
  m: MatrixView,
  x: XmppView,
  lines: { bob: string; alice: string; edit: string },
): Promise<void> {
  const bobSent = await x.side.say(lines.bob);
  x.own(bobSent.id);
  const bobOnMatrix = await m.other(matrixBody(lines.bob));

  const since = x.side.mark();
  const aliceId = await m.side.reply(bobOnMatrix.event_id, lines.alice);
  await m.own(aliceId);
  const aliceOnXmpp = await x.other(hasBody(lines.alice), "alice's reply", since);

  x.own((await x.side.react(stanzaIdOf(aliceOnXmpp, x.side.muc)!, '🎉')).id);
  await m.other((e) => e.type === 'm.reaction');

  x.own((await x.side.correct(bobSent.id, lines.edit)).id);
  await m.other((e) => relatesTo(e)?.['rel_type'] === 'm.replace');
  const deleted = await x.side.say('(a message bob will delete)');
  x.own(deleted.id);
  const seenThere = await m.other(matrixBody('(a message bob will delete)'));
  x.own((await x.side.retract(deleted.stanzaId)).id);
  await m.other((e) => e.type === 'm.room.redaction' && redactedBy(e) === seenThere.event_id);
}

function stillRunning(processes: readonly EnvProcess[]): EnvProcess[] {
  return processes.filter((p) => {
    try {
      process.kill(p.pid, 0);
      return true;
    } catch {
      return false;
    }
  });
}

/** What the demo started, and stopping it on every way out: --once, a signal, an error. */
class Lifecycle {
  /** Resolves with the first SIGINT / SIGTERM. */
  readonly interrupt: Promise<string>;
  interrupted?: string;
  private starting?: Promise<HeadlineEnv>;
  private processes: EnvProcess[] = [];

  constructor() {
    this.interrupt = new Promise((resolve) => {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        process.on(signal, () => {
          this.interrupted ??= signal;
          resolve(signal);
        });
      }
    });
  }

  /** Start the environment; `finish` waits for a start in progress before stopping it. */
  async start(): Promise<HeadlineEnv> {
    this.starting = HeadlineEnv.create({ xmppAccounts: [BOB, GUEST_XMPP], logLevel: 'warn' });
    const env = await this.starting;
    this.processes = env.processes();
    out(`demo: processes: ${this.processes.map((p) => `${p.name} pid ${p.pid}`).join(', ')}`);
    return env;
  }

  /** Stop everything started; 0 when no process of ours is left, else 1. */
  async finish(why: string): Promise<number> {
    out(`\n==> stopping (${why}): gateways, Synapse, Prosody`);
    const env = await this.starting?.catch(() => undefined);
    await env?.dispose();
    const left = stillRunning(this.processes);
    if (left.length > 0) {
      out(`demo: still running: ${left.map((p) => `${p.name} pid ${p.pid}`).join(', ')}`);
      return 1;
    }
    out(`demo: stopped; nothing left running (${this.processes.map((p) => `${p.name} pid ${p.pid}`).join(', ')})`);
    return 0;
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const once = argv.includes('--once') || process.env['MIMI_DEMO_ONCE'] === '1';
  const life = new Lifecycle();
  const running = run(once, life);
  let failed = false;
  try {
    await Promise.race([running, life.interrupt]);
  } catch (e) {
    if (life.interrupted === undefined) {
      process.stderr.write(`demo failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      failed = true;
    }
  }
  // Interrupted mid-way, the script fails as its servers go away: that is expected.
  running.catch(() => undefined);
  const code = await life.finish(life.interrupted ?? (failed ? 'error' : '--once'));
  return failed ? 1 : code;
}

/** Start, link the rooms, play the conversation; without `once`, stay up until a signal. */
async function run(once: boolean, life: Lifecycle): Promise<void> {
  out('==> starting Synapse, Prosody, gateway A (Matrix) and gateway B (XMPP), MIMI between them over mutual TLS');
  const env = await life.start();
  const aliceClient = await env.registerMatrixUser('alice');
  const guest = await env.registerMatrixUser(GUEST_MATRIX);
  const bobUser = await env.connectXmpp(BOB);

  out('\n==> a Matrix room, hubbed by gateway A, mirrored into a MUC by gateway B');
  const lobby = await env.linkMatrixRoom(aliceClient, 'Matrix lobby', { invite: [guest.userId] });
  const mirrorMuc = await env.inviteXmppUser(aliceClient, lobby.roomId, lobby.roomUri, bobUser.jid);
  const lobbyBob = new XmppSide(bobUser, mirrorMuc, 'bob');
  await lobbyBob.join();
  await env.epochsSettled(lobby.roomUri);
  out(`demo: ${lobby.roomUri}: Matrix room ${lobby.roomId} ↔ MUC ${mirrorMuc}`);
  await converse(new MatrixView(new MatrixSide(aliceClient, lobby.roomId)), new XmppView(lobbyBob), {
    alice: 'Hi Bob! This room lives on Matrix.',
    bob: 'Hi Alice, I am reading you from XMPP.',
    edit: 'Hi Bob! This room lives on Matrix, and MIMI brings it to you.',
  });

  out('\n==> a MUC, hubbed by gateway B, mirrored into a Matrix room by gateway A');
  const lounge = mucJid('lounge');
  const loungeUri = await env.linkMuc(bobUser, lounge, 'bob');
  const mirrorRoom = await env.inviteMatrixUser(bobUser, lounge, loungeUri, aliceClient.userId);
  const alias = env.ids.portalAlias(loungeUri)!;
  await aliceClient.join(alias);
  await env.epochsSettled(loungeUri);
  out(`demo: ${loungeUri}: MUC ${lounge} ↔ Matrix room ${mirrorRoom} (${alias})`);
  await converseFromXmpp(
    new MatrixView(new MatrixSide(aliceClient, mirrorRoom)),
    new XmppView(new XmppSide(bobUser, lounge, 'bob')),
    {
      bob: 'Welcome to my MUC, Alice. It lives on XMPP.',
      alice: 'Thanks Bob, I am here from Matrix.',
      edit: 'Welcome to my MUC, Alice. It lives on XMPP, hubbed by gateway B.',
    },
  );
  out('\n==> transcript done');
  if (once) return;

  // The guests, invited on both sides: their clients can enter every room at once.
  await env.inviteXmppUser(aliceClient, lobby.roomId, lobby.roomUri, `${GUEST_XMPP.username}@localhost`);
  await env.epochsSettled(lobby.roomUri);
  await env.inviteMatrixUser(bobUser, lounge, loungeUri, guest.userId);
  await env.epochsSettled(loungeUri);
  const c2s = new URL(env.prosody.c2sService);
  out(
    [
      '',
      'The demo stays up: join in with any client.',
      `  Matrix: homeserver ${env.synapse.url} (server name ${env.synapse.serverName}, plain HTTP on loopback)`,
      `          user ${guest.userId} (log in as "${GUEST_MATRIX}"), password pw-${GUEST_MATRIX}-secret`,
      `          rooms: "Matrix lobby" ${lobby.roomId} (you are invited); the MUC's mirror: ${alias} (join it)`,
      `  XMPP:   JID ${GUEST_XMPP.username}@localhost, password ${GUEST_XMPP.password}`,
      `          server ${c2s.hostname} port ${c2s.port} (no TLS: allow plain-text login in your client)`,
      `          rooms (join them): ${lounge} (bob's MUC); the Matrix lobby's mirror: ${mirrorMuc}`,
      'Ctrl-C stops everything.',
    ].join('\n'),
  );
  await life.interrupt;
}

void main(process.argv.slice(2)).then((code) => process.exit(code));
