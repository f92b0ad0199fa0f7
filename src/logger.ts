// Structured JSON logging (pino) for the whole process. Never log secrets, API keys or payloads at info.
import { pino, type Logger } from 'pino';
import type { LogLevel } from './config/index.js';

export type { Logger };

export function createLogger(level: LogLevel): Logger {
  return pino({ level, base: { service: 'agentwatch' }, timestamp: pino.stdTimeFunctions.isoTime });
}
