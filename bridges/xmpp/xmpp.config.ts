import { Logger } from '@nestjs/common';
import { Type } from 'class-transformer';
import { IsArray, IsIn, IsOptional, IsString, Matches, ValidateIf, ValidateNested } from 'class-validator';
import { DOMAIN, IntRange, validateConfigSection } from '../../src/common/config-schema';

/** `xmpp.httpUpload`: the server's XEP-0363 upload service (Prosody: mod_http_file_share). */
export class XmppHttpUploadConfig {
  /** JID of the upload service, e.g. upload.xmpp.example. */
  @Matches(DOMAIN, { message: 'the upload service JID, e.g. upload.xmpp.example' })
  service!: string;

  /**
   * Every download URL the service hands out starts with this, e.g.
   * https://upload.xmpp.example/file_share/ (Prosody: its http_external_url + "file_share/").
   * The gateway fetches only URLs under it.
   */
  @Matches(/^https?:\/\/[^/?#\s]+\/[^?#\s]*$/, {
    message: 'an http(s) URL prefix ending in a path, e.g. https://upload.xmpp.example/file_share/',
  })
  downloadUrlPrefix!: string;
}

/**
 * The `xmpp:` section of the gateway's config file: the XMPP bridge, component or relay mode (bridges/xmpp/README.md).
 * The core config (src/config) does not know it: the loader hands the raw section to
 * `xmppConfigSection.parse`, which names bad keys by their full path (`xmpp.…`), as
 * `mimi-gateway config check` prints them.
 */
export class XmppConfig {
  @IsIn(['component', 'relay'], { message: "'component' or 'relay'" })
  mode: 'component' | 'relay' = 'component';

  @IsString({ message: 'xmpp://host:port of the server' })
  service!: string;

  /** component mode: the component's domain, e.g. mimi.xmpp.example */
  @ValidateIf((o: XmppConfig) => o.mode === 'component')
  @Matches(DOMAIN, { message: 'the component domain (required in component mode)' })
  componentDomain?: string;

  @IsOptional()
  @IsString({ message: 'a path to a file with the component secret or relay password' })
  secretFile?: string;

  /** relay mode: the account's JID. */
  @ValidateIf((o: XmppConfig) => o.mode === 'relay')
  @IsString({ message: 'the relay account JID (required in relay mode)' })
  jid?: string;

  /** Nickname of the bridge's own occupant (the component's bot, or the relay account) in linked MUCs. */
  @IsString({ message: 'a MUC nickname' })
  botNick: string = 'MIMI';

  /** MUC JIDs linked to MIMI rooms at start (room@conference.xmpp.example). */
  @IsArray({ message: 'a list of MUC JIDs' })
  @Matches(/^[^@/\s]+@[^@/\s]+$/, { each: true, message: 'a list of bare MUC JIDs (room@service)' })
  links: string[] = [];

  /** MUC service where follower-mode mirror rooms are created, e.g. conference.xmpp.example. */
  @IsOptional()
  @Matches(DOMAIN, { message: 'the MUC service domain, e.g. conference.xmpp.example' })
  mucService?: string;

  /**
   * The XMPP domains of the users this gateway speaks for: peers' `/identifierQuery` finds
   * `xmpp:user@<domain>` for these. Default: the parent domain of mucService and of componentDomain.
   */
  @IsOptional()
  @IsArray({ message: 'a list of XMPP domains' })
  @Matches(DOMAIN, { each: true, message: 'a list of XMPP domains, e.g. xmpp.example' })
  userDomains?: string[];

  /** Hosts whose https URLs are passed on as attachments, both ways (the gateway never fetches them). */
  @IsArray({ message: 'a list of host names' })
  @IsString({ each: true, message: 'a list of host names' })
  attachmentHosts: string[] = [];

  /** The XEP-0363 upload service: files posted in MUCs are carried to other platforms, and theirs uploaded here. */
  @IsOptional()
  @ValidateNested()
  @Type(() => XmppHttpUploadConfig)
  httpUpload?: XmppHttpUploadConfig;

  /**
   * Largest stanza the bridge sends, in bytes. Default: Prosody's limits (component streams 512 KiB,
   * client streams 256 KiB); an oversized stanza makes the server drop the whole connection.
   */
  @IsOptional()
  @IntRange(10000, 16 * 1024 * 1024, 'bytes')
  maxStanzaBytes?: number;

  /**
   * Deprecated: the bridge keeps its per-MUC archive cursors, puppet memberships and recent posts
   * in the gateway's database (table `bridge_state`). A JSON journal found at this path (earlier
   * versions wrote it) is imported once on start and renamed `<path>.imported`.
   */
  @IsString({ message: 'a path' })
  stateFile: string = 'data/xmpp-state.json';
}

/** The `xmpp` section as the config loader takes it (see ConfigSection in src/config/load-config.ts). */
export const xmppConfigSection = {
  key: 'xmpp',
  /** @throws ConfigError naming every bad key path under `xmpp.` */
  parse(raw: unknown): XmppConfig {
    const section = validateConfigSection(XmppConfig, 'xmpp', raw);
    if (typeof raw === 'object' && raw !== null && 'stateFile' in raw) {
      new Logger('Config').warn(
        `xmpp.stateFile is deprecated: the XMPP bridge state is kept in the database; a journal at ${section.stateFile} is imported once and renamed .imported`,
      );
    }
    return section;
  },
} as const;
