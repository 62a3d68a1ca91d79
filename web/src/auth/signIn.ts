/**
 * The sign-in flow's rules, kept out of the page so they can be tested: the second step (a code from the
 * authenticator app or a recovery code, `POST /auth/login/mfa`) and the words for each refusal (a wrong password,
 * a deactivated account, a paused sign-in with when to retry, a wrong or expired code).
 */
import { ApiError } from '../api/errors';
import { formatTime } from '../lib/format';

export type CodeMethod = 'totp' | 'recovery';

export type SignInStep =
  | { step: 'password' }
  | { step: 'code'; mfaToken: string; method: CodeMethod; expiresAt: number };

export type SignInEvent =
  | { type: 'challenge'; mfaToken: string; expiresIn: number; now: number }
  | { type: 'use'; method: CodeMethod }
  | { type: 'restart' };

/** The step after `event`. */
export function nextStep(step: SignInStep, event: SignInEvent): SignInStep {
  switch (event.type) {
    case 'challenge':
      return { step: 'code', mfaToken: event.mfaToken, method: 'totp', expiresAt: event.now + Math.max(0, event.expiresIn) * 1000 };
    case 'use':
      return step.step === 'code' ? { ...step, method: event.method } : step;
    case 'restart':
      return { step: 'password' };
    default:
      return step;
  }
}

/** A code as typed ("123 456", "abcd-efgh ") -> as sent: a 6-digit code without spaces, a recovery code trimmed. */
export function normalizeCode(input: string, method: CodeMethod): string {
  if (method === 'totp') return input.replace(/[\s-]/g, '');
  return input.trim().replace(/\s+/g, '');
}

export function validateCode(input: string, method: CodeMethod): string | null {
  const code = normalizeCode(input, method);
  if (!code) return method === 'totp' ? 'Enter the 6-digit code from your authenticator app.' : 'Enter one of your recovery codes.';
  if (method === 'totp' && !/^\d{6}$/.test(code)) return 'The code is 6 digits, like 123456.';
  if (method === 'recovery' && code.length < 6) return 'That is too short for a recovery code.';
  return null;
}

/** Whether the mfaToken has run out (the step starts again from the password). */
export function codeStepExpired(step: SignInStep, now: number): boolean {
  return step.step === 'code' && now >= step.expiresAt;
}

/** 403 after the right password for an account an owner or admin deactivated. */
const DEACTIVATED = 'account_inactive';
/** 401 for an `mfaToken` that expired or was used: the sign-in starts again from the password. */
const MFA_TOKEN_GONE = 'mfa_token_expired';

/** How many attempts the api says are left before sign-in pauses (`remainingAttempts`), when it says. */
export function remainingAttempts(e: ApiError): number | null {
  const v = e.problem?.remainingAttempts;
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** "at 14:32 (in about 15 minutes)" for a wait of `seconds` from `now`. */
export function retryWhen(seconds: number, now: Date): string {
  const at = new Date(now.getTime() + seconds * 1000);
  const minutes = Math.ceil(seconds / 60);
  const wait = seconds < 90 ? `${Math.max(1, Math.round(seconds))} seconds` : `about ${minutes} minutes`;
  return `at ${formatTime(at.toISOString())} (in ${wait})`;
}

export interface SignInFailure {
  message: string;
  /** A warning to show beside the message: the next wrong attempt pauses sign-in. */
  warning: string | null;
  /** The code step is over (its token expired or was used): back to the password. */
  restart: boolean;
}

/** The words for a refused password step. */
export function passwordFailure(e: ApiError, now: Date = new Date()): SignInFailure {
  if (e.status === 401) {
    const left = remainingAttempts(e);
    return {
      message: 'The email or password is not correct.',
      warning:
        left === 1
          ? 'One attempt left: after one more wrong password, signing in to this account is paused for a while.'
          : left !== null && left <= 3 && left > 1
            ? `${left} attempts left before signing in to this account is paused for a while.`
            : null,
      restart: false,
    };
  }
  if (e.status === 403 && e.code === DEACTIVATED) {
    return {
      message: 'This account has been deactivated, so it cannot sign in. Ask your clinic’s owner to reactivate it.',
      warning: null,
      restart: false,
    };
  }
  if (e.status === 429) return { message: pausedMessage(e, now), warning: null, restart: false };
  return { message: e.userMessage, warning: null, restart: false };
}

function pausedMessage(e: ApiError, now: Date): string {
  const when = e.retryAfter !== null ? `You can try again ${retryWhen(e.retryAfter, now)}.` : 'Try again later.';
  return `Signing in is paused after too many failed attempts. ${when} If you cannot sign in, your clinic’s owner can help.`;
}

/** The words for a refused code step. */
export function codeFailure(e: ApiError, method: CodeMethod, now: Date = new Date()): SignInFailure {
  if (e.code === MFA_TOKEN_GONE) {
    return { message: 'The sign-in took too long. Enter your password again.', warning: null, restart: true };
  }
  if (e.status === 401 || e.status === 422 || e.status === 400) {
    const left = remainingAttempts(e);
    return {
      message:
        method === 'totp'
          ? 'That code is not correct, or it was used already. Wait for the next code in your app and try again.'
          : 'That recovery code is not correct, or it was used already. Each recovery code works once.',
      warning: left === 1 ? 'One attempt left before signing in is paused for a while.' : null,
      restart: false,
    };
  }
  if (e.status === 403 && e.code === DEACTIVATED) return passwordFailure(e, now);
  if (e.status === 429) return { message: pausedMessage(e, now), warning: null, restart: false };
  return { message: e.userMessage, warning: null, restart: false };
}
