import type { FieldError, Problem } from './types';

/** Any failed call: an HTTP error (with its problem+json body when there is one) or a network failure (status 0). */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem | null;
  /** Seconds from `Retry-After`, for 429 and 503. */
  readonly retryAfter: number | null;

  constructor(status: number, problem: Problem | null, message?: string, retryAfter: number | null = null) {
    super(message ?? problem?.detail ?? problem?.title ?? defaultMessage(status));
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }

  get code(): string | null {
    return this.problem?.code ?? null;
  }

  get fieldErrors(): FieldError[] {
    return this.problem?.errors ?? [];
  }

  /** A sentence a user can act on, with the request id for support when the server failed. */
  get userMessage(): string {
    if (this.status === 0) return 'Cannot reach the server. Check your connection and try again.';
    if (this.status === 429) {
      const wait = this.retryAfter ? ` Try again in ${this.retryAfter} seconds.` : ' Try again shortly.';
      return `Too many requests.${wait}`;
    }
    if (this.status >= 500) {
      const ref = this.problem?.requestId ? ` (reference ${this.problem.requestId})` : '';
      return `${this.problem?.detail ?? defaultMessage(this.status)}${ref}`;
    }
    return this.message;
  }
}

function defaultMessage(status: number): string {
  if (status === 0) return 'Network error';
  if (status === 401) return 'Your session has ended. Please sign in again.';
  if (status === 403) return 'You are not allowed to do that.';
  if (status === 404) return 'Not found.';
  if (status >= 500) return 'The server could not complete the request. Please try again.';
  return `Request failed (${status})`;
}

function isProblem(value: unknown): value is Problem {
  return typeof value === 'object' && value !== null && 'status' in value && ('code' in value || 'title' in value);
}

/** Builds an ApiError from a non-2xx response, reading its problem+json body when present. */
export async function errorFromResponse(res: Response): Promise<ApiError> {
  let problem: Problem | null = null;
  const type = res.headers.get('content-type') ?? '';
  if (type.includes('json')) {
    try {
      const body: unknown = await res.json();
      if (isProblem(body)) problem = body;
    } catch {
      // A body that is not JSON after all: keep the status alone.
    }
  }
  const retryHeader = res.headers.get('retry-after');
  const retryAfter = retryHeader && /^\d+$/.test(retryHeader) ? Number(retryHeader) : null;
  return new ApiError(res.status, problem, undefined, retryAfter);
}

export function isApiError(e: unknown): e is ApiError {
  return e instanceof ApiError;
}

/** Turns any thrown value into a message for the UI. */
export function messageOf(e: unknown): string {
  if (e instanceof ApiError) return e.userMessage;
  if (e instanceof Error) return e.message;
  return 'Something went wrong.';
}

/**
 * The code by which the api refuses a clinic's routes until the user has set up two-step sign-in (the clinic
 * requires it): 403 `mfa_setup_required` (the api's README lists it; CONTRACT.md names the behaviour, not the code).
 */
export const MFA_SETUP_CODES: readonly string[] = ['mfa_setup_required'];

export function isMfaSetupRequired(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false;
  const code = (body as { code?: unknown }).code;
  return typeof code === 'string' && MFA_SETUP_CODES.includes(code);
}
