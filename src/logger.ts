import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON lines on stdout; secrets never reach a log line through these paths. */
export function createLogger(level: string): Logger {
  return pino({
    name: 'freshgraph',
    level,
    redact: {
      paths: ['req.headers.authorization', 'req.headers["x-router-secret"]', 'config.databaseUrl', 'config.redisUrl'],
      censor: '[redacted]',
    },
  });
}
