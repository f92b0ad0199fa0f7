// Errors of the HTTP API: one JSON shape {error: {code, message}} with stable codes, each answered
// with the HTTP status the error catalogue (src/errors.ts) gives it.

import type { FastifyReply } from 'fastify';
import { ERROR_CATALOGUE, type ErrorCode } from '../errors.js';

/** The HTTP status of an error code (500 for a code the API never answers with). */
export function statusOf(code: ErrorCode): number {
  return ERROR_CATALOGUE[code].httpStatus ?? 500;
}

export class ApiError extends Error {
  readonly statusCode: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
    this.statusCode = statusOf(code);
  }
}

export const badRequest = (message: string) => new ApiError('AW_API_BAD_REQUEST', message);

/** Answers with `code`'s status and the error body. */
export function sendError(reply: FastifyReply, code: ErrorCode, message: string): FastifyReply {
  return reply.code(statusOf(code)).send({ error: { code, message } });
}

/** Whether a failure is ClickHouse not answering (a server down or unreachable), not a bad query. */
export function isStoreUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EPIPE)$/.test(code))
    return true;
  return err instanceof Error && /ECONNREFUSED|socket hang up|Timeout error/.test(err.message);
}
