import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * JSON lines on stdout (or `destination`, for tests). Nothing logs headers,
 * variables or the config; the redaction below is the second line of defence
 * should a future log call pass one of them.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      name: 'freshgraph',
      level,
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers["x-router-secret"]',
          'headers.authorization',
          'headers["x-router-secret"]',
          'config.databaseUrl',
          'config.redisUrl',
          'config.routerSecret',
          'config.writeTokens',
          'routerSecret',
          'writeTokens',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
