/**
 * The MLS working group's test vectors (RFC 9420 companion, `test/vectors/mls/README.md`),
 * stored gzipped in `test/vectors/mls/`. Specs load a file by name and report, per file, how
 * many vectors passed and how many were skipped for a cipher suite we do not implement:
 * a vector is never skipped silently.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

const VECTOR_DIR = join(__dirname, '..', 'vectors', 'mls');

/** The parsed JSON array of one vector file, e.g. `loadMlsVectors<TreeMathVector>('tree-math')`. */
export function loadMlsVectors<T>(name: string): T[] {
  const raw = gunzipSync(readFileSync(join(VECTOR_DIR, `${name}.json.gz`))).toString('utf8');
  const parsed: unknown = JSON.parse(raw);
  if (!Array.isArray(parsed)) throw new Error(`${name}.json: expected a JSON array`);
  return parsed as T[];
}

export function hex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'hex'));
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** Counts per vector file, printed once by `report()` (in afterAll) so CI logs show them. */
export class VectorTally {
  passed = 0;
  private readonly skipped = new Map<string, number>();

  constructor(private readonly file: string) {}

  pass(): void {
    this.passed++;
  }

  skip(reason: string): void {
    this.skipped.set(reason, (this.skipped.get(reason) ?? 0) + 1);
  }

  report(): string {
    const skips = [...this.skipped].map(([reason, n]) => `${n} skipped (${reason})`);
    const line = `mls test vectors ${this.file}: ${this.passed} passed${skips.length ? ', ' + skips.join(', ') : ''}`;
    process.stdout.write(line + '\n');
    return line;
  }
}
