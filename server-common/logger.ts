/**
 * Structured logging (pino). Secrets are never logged: the redact paths below cover every
 * field name under which a password, digest response, cookie or token could appear.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export const REDACTED_FIELDS = [
  'password',
  '*.password',
  'authorization',
  '*.authorization',
  'cookie',
  '*.cookie',
  'headers.cookie',
  'headers.authorization',
  'token',
  '*.token',
  'secret',
  '*.secret',
  'sipPassword',
  '*.sipPassword',
];

export function createLogger(level: string, name = 'parley'): Logger {
  return pino({
    name,
    level,
    redact: { paths: REDACTED_FIELDS, censor: '[redacted]' },
    base: undefined,
  });
}
