/**
 * Command line of the test Prosody, for scripts/prosody.sh:
 *   cli.ts start DIR [--component-domain mimi.localhost] [--account user:password]...
 *       starts Prosody in the background, writes DIR/server.json and prints it
 *   cli.ts stop DIR
 *       stops the Prosody started in DIR and deletes DIR
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProsodyServer } from './prosody-server';

interface ServerInfo {
  pid: number;
  c2sService: string;
  componentService: string;
  componentDomain: string;
  componentSecret: string;
  configFile: string;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, dir, ...rest] = argv;
  if (!cmd || !dir || !['start', 'stop'].includes(cmd)) {
    console.error('usage: cli.ts start|stop DIR [--component-domain D] [--account user:password]...');
    return 2;
  }
  const infoFile = join(dir, 'server.json');
  if (cmd === 'stop') {
    if (!existsSync(infoFile)) return 0;
    const info = JSON.parse(readFileSync(infoFile, 'utf8')) as ServerInfo;
    try {
      process.kill(info.pid, 'SIGTERM');
      for (let i = 0; i < 100; i++) {
        process.kill(info.pid, 0);
        await new Promise((r) => setTimeout(r, 100));
      }
      process.kill(info.pid, 'SIGKILL');
    } catch {
      // gone
    }
    rmSync(dir, { recursive: true, force: true });
    return 0;
  }
  let componentDomain = 'mimi.localhost';
  const accounts: { username: string; password: string }[] = [];
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--component-domain') componentDomain = rest[++i] ?? componentDomain;
    else if (rest[i] === '--account') {
      const [username, password] = (rest[++i] ?? '').split(':');
      if (username && password) accounts.push({ username, password });
    }
  }
  const server = await ProsodyServer.start({ dir, componentDomain, accounts, detached: true });
  const info: ServerInfo = {
    pid: server.pid!,
    c2sService: server.c2sService,
    componentService: server.componentService,
    componentDomain,
    componentSecret: server.componentSecret,
    configFile: server.configFile,
  };
  writeFileSync(infoFile, JSON.stringify(info, null, 2), { mode: 0o600 });
  console.log(JSON.stringify(info, null, 2));
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  },
);
