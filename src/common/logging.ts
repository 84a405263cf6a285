import { ConsoleLogger, LogLevel } from '@nestjs/common';

const ORDER: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/** Nest logger for the configured level: `level` and everything more severe. JSON lines when `json`. */
export function createLogger(level: 'error' | 'warn' | 'log' | 'debug' | 'verbose', json: boolean): ConsoleLogger {
  const levels = ORDER.slice(0, ORDER.indexOf(level) + 1);
  return new ConsoleLogger({ logLevels: levels, json, colors: !json && process.stdout.isTTY === true });
}

const SENSITIVE_KEYS = /(token|secret|password|handshake|authorization|private_?key)/i;

/**
 * Redact secrets from a structure before it is logged (appservice tokens, component handshakes,
 * Authorization headers). Values under a sensitive key become '[redacted]'.
 */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = SENSITIVE_KEYS.test(k) ? '[redacted]' : redact(v, depth + 1);
  }
  return out;
}
