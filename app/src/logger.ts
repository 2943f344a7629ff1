import pino, { type DestinationStream, type Logger } from 'pino';
import { SERVICE_NAME, type LogLevel } from './config';
import { VERSION } from './version';

export type { Logger };

/**
 * JSON lines on stdout (pino's default destination, synchronous, no files: the root filesystem is
 * read-only). `level` is written as a label ("info") rather than pino's number so log queries read naturally.
 */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: SERVICE_NAME, version: VERSION },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], remove: true },
  };
  return destination ? pino(options, destination) : pino(options);
}
