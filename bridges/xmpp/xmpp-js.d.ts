/**
 * Type declarations for the parts of xmpp.js 0.13 (CommonJS, untyped) the XMPP bridge uses.
 * Only what the bridge calls is declared; see node_modules/@xmpp/* for the implementations.
 */
declare module '@xmpp/xml' {
  /** An ltx element: attributes in `attrs`, children are elements or text. */
  class LtxElement {
    constructor(name: string, attrs?: Record<string, string | undefined>);
    name: string;
    attrs: Record<string, string | undefined>;
    children: (LtxElement | string)[];
    parent: LtxElement | null;
    is(name: string, xmlns?: string): boolean;
    getName(): string;
    getNS(): string | undefined;
    getChild(name: string, xmlns?: string): LtxElement | undefined;
    getChildren(name: string, xmlns?: string): LtxElement[];
    getChildElements(): LtxElement[];
    getChildText(name: string, xmlns?: string): string | null;
    getText(): string;
    text(): string;
    append(...nodes: (LtxElement | string)[]): void;
    c(name: string, attrs?: Record<string, string | undefined>): LtxElement;
    t(text: string): LtxElement;
    up(): LtxElement;
    toString(): string;
  }
  type Child = LtxElement | string | undefined | null | false | readonly Child[];
  function xml(
    name: string,
    attrs?: Record<string, string | number | undefined> | null,
    ...children: Child[]
  ): LtxElement;
  namespace xml {
    type Element = LtxElement;
    const Element: typeof LtxElement;
    class Parser {
      on(event: 'start' | 'element' | 'end', listener: (el: LtxElement) => void): this;
      on(event: 'error', listener: (err: Error) => void): this;
      write(data: string): void;
      end(data?: string): void;
    }
  }
  export = xml;
}

declare module '@xmpp/xml/lib/parse' {
  import type xml from '@xmpp/xml';
  function parse(data: string): xml.Element;
  export = parse;
}

declare module '@xmpp/connection' {
  import { EventEmitter } from 'node:events';
  import type xml from '@xmpp/xml';
  type Element = xml.Element;

  /** The entity behind both `component()` and `client()`. */
  export interface XmppEntity extends EventEmitter {
    status: string;
    jid: { toString(): string } | null;
    socket: { destroy(): void; end(): void } | null;
    options: Record<string, unknown>;
    start(): Promise<unknown>;
    stop(): Promise<unknown>;
    send(el: Element): Promise<void>;
    reconnect: XmppReconnect;
    middleware: {
      use(fn: (ctx: XmppMiddlewareContext, next: () => Promise<unknown>) => unknown): void;
    };
  }

  export interface XmppMiddlewareContext {
    stanza: Element;
    type: string;
    name: string;
    id: string;
  }

  export interface XmppReconnect extends EventEmitter {
    delay: number;
    start(): void;
    stop(): void;
  }
}

declare module '@xmpp/component' {
  import { XmppEntity } from '@xmpp/connection';
  export function component(options: { service: string; domain: string; password: string }): XmppEntity;
}

declare module '@xmpp/client' {
  import { XmppEntity } from '@xmpp/connection';
  export interface XmppClient extends XmppEntity {
    streamManagement: { enabled: boolean; id: string; allowResume: boolean };
    sasl: { use(name: string, mech: unknown): SaslFactory };
  }
  export interface SaslFactory {
    _mechs: { name: string; mech: unknown }[];
  }
  export function client(options: {
    service: string;
    domain?: string;
    username?: string;
    password?: string;
    resource?: string;
  }): XmppClient;
}
