/**
 * Field rules shared by every screen (accounts, chat, server errors). The patient rules, which need the phone
 * number metadata, are in validation.ts, which re-exports these.
 */
import type { FieldError } from '../api/types';
import { formatNumber } from './format';

export type FieldErrors<K extends string = string> = Partial<Record<K, string>>;

export const NAME_MAX = 200;
export const NOTES_MAX = 10_000;
export const MESSAGE_MAX = 4_000;
export const PASSWORD_MIN = 12;
export const EARLIEST_BIRTH_DATE = '1900-01-01';

/** Length in Unicode code points, as Rust's `chars().count()` counts. */
export function charCount(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

const EMAIL_RE = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;

export function isValidEmail(value: string): boolean {
  return value.length <= 254 && EMAIL_RE.test(value);
}

/** The api's field names may come camelCase (`dateOfBirth`), snake_case or as a JSON pointer (`/dateOfBirth`). */
export function normalizeFieldName(field: string): string {
  const last = field.replace(/^\/+/, '').split(/[./]/).pop() ?? field;
  return last.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Maps a problem+json `errors` array onto form fields. Errors for fields the form does not show are returned in
 * `other` so they can be displayed in the form-level alert instead of being lost.
 */
export function mapServerErrors<K extends string>(
  errors: FieldError[],
  known: readonly K[],
): { fields: FieldErrors<K>; other: string[] } {
  const fields: FieldErrors<K> = {};
  const other: string[] = [];
  for (const e of errors) {
    const name = normalizeFieldName(e.field);
    if ((known as readonly string[]).includes(name)) {
      const key = name as K;
      fields[key] = fields[key] ? `${fields[key]} ${e.message}` : e.message;
    } else {
      other.push(e.field ? `${e.field}: ${e.message}` : e.message);
    }
  }
  return { fields, other };
}

export interface RegisterValues {
  email: string;
  fullName: string;
  password: string;
}

export function validateRegister(values: RegisterValues): FieldErrors<keyof RegisterValues> {
  const errors: FieldErrors<keyof RegisterValues> = {};
  const email = values.email.trim();
  if (!email) errors.email = 'Enter your email address.';
  else if (!isValidEmail(email)) errors.email = 'Enter a valid email address, like name@example.com.';
  const fullName = values.fullName.trim();
  if (!fullName) errors.fullName = 'Enter your full name.';
  else if (charCount(fullName) > NAME_MAX) errors.fullName = `Name must be at most ${NAME_MAX} characters.`;
  if (charCount(values.password) < PASSWORD_MIN) {
    errors.password = `Use at least ${PASSWORD_MIN} characters. A few unrelated words make a strong password.`;
  }
  return errors;
}

export function validateLogin(values: { email: string; password: string }): FieldErrors<'email' | 'password'> {
  const errors: FieldErrors<'email' | 'password'> = {};
  if (!values.email.trim()) errors.email = 'Enter your email address.';
  if (!values.password) errors.password = 'Enter your password.';
  return errors;
}

/** A chat message as the api accepts it: trimmed, 1-4,000 characters. */
export function validateMessage(content: string): string | null {
  const trimmed = content.trim();
  if (!trimmed) return 'Type a message first.';
  if (charCount(trimmed) > MESSAGE_MAX) return `A message can be at most ${formatNumber(MESSAGE_MAX, 'en')} characters.`;
  return null;
}
