import { describe, expect, it } from 'vitest';
import { ApiError } from '../api/errors';
import type { Problem } from '../api/types';
import { codeFailure, codeStepExpired, nextStep, normalizeCode, passwordFailure, validateCode, type SignInStep } from './signIn';

const problem = (status: number, code: string, extra: Record<string, unknown> = {}): Problem =>
  ({ type: 'x', title: code, status, detail: code, code, ...extra }) as Problem;

describe('the code step at sign-in', () => {
  it('goes password -> code (a 6-digit code first) -> recovery code -> back to the password', () => {
    let s: SignInStep = { step: 'password' };
    s = nextStep(s, { type: 'use', method: 'recovery' });
    expect(s).toEqual({ step: 'password' });
    s = nextStep(s, { type: 'challenge', mfaToken: 't', expiresIn: 300, now: 1_000 });
    expect(s).toEqual({ step: 'code', mfaToken: 't', method: 'totp', expiresAt: 301_000 });
    s = nextStep(s, { type: 'use', method: 'recovery' });
    expect(s).toMatchObject({ step: 'code', method: 'recovery', mfaToken: 't' });
    expect(codeStepExpired(s, 300_999)).toBe(false);
    expect(codeStepExpired(s, 301_000)).toBe(true);
    expect(nextStep(s, { type: 'restart' })).toEqual({ step: 'password' });
  });

  it('takes codes as people type them', () => {
    expect(normalizeCode(' 123 456 ', 'totp')).toBe('123456');
    expect(normalizeCode('123-456', 'totp')).toBe('123456');
    expect(normalizeCode(' abcde-12345 ', 'recovery')).toBe('abcde-12345');
    expect(validateCode('123 456', 'totp')).toBeNull();
    expect(validateCode('12345', 'totp')).toMatch(/6 digits/);
    expect(validateCode('', 'totp')).toMatch(/6-digit code/);
    expect(validateCode('', 'recovery')).toMatch(/recovery codes/);
    expect(validateCode('abc', 'recovery')).toMatch(/too short/);
  });

  it('a wrong code keeps the step; an expired challenge starts again from the password', () => {
    const wrong = codeFailure(new ApiError(401, problem(401, 'invalid_code')), 'totp');
    expect(wrong).toMatchObject({ restart: false });
    expect(wrong.message).toMatch(/not correct, or it was used already/);
    expect(codeFailure(new ApiError(401, problem(401, 'invalid_code')), 'recovery').message).toMatch(/works once/);
    expect(codeFailure(new ApiError(401, problem(401, 'mfa_token_expired')), 'totp')).toMatchObject({ restart: true });
  });
});

describe('sign-in messages', () => {
  const now = new Date('2025-04-12T14:00:00Z');
  it('a wrong password, with a warning before the last attempt when the api counts them', () => {
    expect(passwordFailure(new ApiError(401, problem(401, 'invalid_credentials')), now)).toEqual({
      message: 'The email or password is not correct.',
      warning: null,
      restart: false,
    });
    expect(passwordFailure(new ApiError(401, problem(401, 'invalid_credentials', { remainingAttempts: 1 })), now).warning).toMatch(/One attempt left/);
    expect(passwordFailure(new ApiError(401, problem(401, 'invalid_credentials', { remainingAttempts: 3 })), now).warning).toMatch(/3 attempts left/);
    expect(passwordFailure(new ApiError(401, problem(401, 'invalid_credentials', { remainingAttempts: 4 })), now).warning).toBeNull();
  });

  it('a deactivated account is told so, and who can help', () => {
    expect(passwordFailure(new ApiError(403, problem(403, 'account_inactive')), now).message).toMatch(/deactivated.*clinic’s owner/);
  });

  it('a paused sign-in says when to retry and that the owner can help', () => {
    const m = passwordFailure(new ApiError(429, problem(429, 'rate_limited'), undefined, 900), now).message;
    expect(m).toMatch(/paused/);
    expect(m).toMatch(/in about 15 minutes/);
    expect(m).toMatch(/owner can help/);
    expect(passwordFailure(new ApiError(429, problem(429, 'rate_limited'), undefined, 42), now).message).toMatch(/in 42 seconds/);
    expect(passwordFailure(new ApiError(429, problem(429, 'rate_limited')), now).message).toMatch(/Try again later/);
  });
});
