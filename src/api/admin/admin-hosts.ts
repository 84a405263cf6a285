/**
 * The names a request to the admin listener may carry in `Host` and `Origin` (issue 14: a
 * cross-origin form POST, or a DNS-rebound name, drove provisioning from a web page). Names only:
 * the port is not compared, so a mapped or proxied port works once its name is allowed.
 */
import { isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

/** Lower-case, without IPv6 brackets or a trailing dot. */
function normalize(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
}

/**
 * The host names of a listener bound to `bindHost`: that name, the loopback names when it is a
 * loopback address, this machine's addresses and name when it is the unspecified address, and
 * `extra` (`admin.allowedHosts`).
 */
export function adminHostNames(bindHost: string, extra: readonly string[] = []): ReadonlySet<string> {
  const bound = normalize(bindHost);
  const names = new Set<string>([bound, ...extra.map(normalize)]);
  if (isLoopback(bound)) for (const n of LOOPBACK_NAMES) names.add(n);
  if (bound === '0.0.0.0' || bound === '::' || bound === '') {
    for (const n of LOOPBACK_NAMES) names.add(n);
    names.add(normalize(hostname()));
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) names.add(normalize(a.address));
    }
  }
  return names;
}

/** The host name of a `Host` header value (`[::1]:8480` → `::1`), or undefined when malformed. */
export function hostHeaderName(value: string | undefined): string | undefined {
  if (value === undefined || value.length === 0) return undefined;
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(:\d{1,5})?$/.exec(value.trim());
  return m ? normalize(m[1]!) : undefined;
}

/** The host name of an `Origin` header value, or undefined when it is `null` or not a URL. */
export function originHostName(value: string): string | undefined {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? normalize(url.hostname) : undefined;
  } catch {
    return undefined;
  }
}
