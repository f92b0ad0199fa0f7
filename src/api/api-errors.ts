// Errors of the HTTP API: one JSON shape {error: {code, message}} with stable codes.

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const badRequest = (message: string) => new ApiError(400, 'AW_API_BAD_REQUEST', message);
