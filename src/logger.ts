// Structured JSON logging (pino) for the whole process. Never log secrets, API keys or payloads at info.
import { pino, type Logger } from 'pino';
import type { LogLevel } from './config/index.js';

export type { Logger };

/** JSON logs on stdout, or appended to `file` (the demo keeps the terminal for people). */
export function createLogger(level: LogLevel, file?: string): Logger {
  const options = { level, base: { service: 'agentwatch' }, timestamp: pino.stdTimeFunctions.isoTime };
  return file === undefined ? pino(options) : pino(options, pino.destination({ dest: file, sync: true, mkdir: true }));
}
