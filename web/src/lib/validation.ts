/**
 * Client-side copies of the api's field rules, so most mistakes are shown before a round trip.
 * The server stays the authority: its 422 `errors` are mapped onto the same fields ({@link mapServerErrors}).
 */
import type { FieldError, PatientInput } from '../api/types';

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

/**
 * Normalises a phone number the way the api does: strip spaces, dashes, dots and parentheses.
 * Returns the E.164 form (`+` and 8-15 digits) or `null` when it is not one.
 */
export function normalizePhone(value: string): string | null {
  const stripped = value.trim().replace(/[\s\-.()]/g, '');
  return /^\+[0-9]{8,15}$/.test(stripped) ? stripped : null;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** Today's date in the browser's time zone as `YYYY-MM-DD`. */
export function todayIso(now: Date = new Date()): string {
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/** `YYYY-MM-DD` naming a real calendar day. */
export function isIsoDate(value: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (mo < 1 || mo > 12 || d < 1) return false;
  const days = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  return d <= days;
}

/** The patient form as typed: every field a string, empty meaning "not given". */
export interface PatientFormValues {
  name: string;
  email: string;
  phone: string;
  dateOfBirth: string;
  medicalNotes: string;
}

export type PatientField = keyof PatientFormValues;

export const EMPTY_PATIENT_FORM: PatientFormValues = {
  name: '',
  email: '',
  phone: '',
  dateOfBirth: '',
  medicalNotes: '',
};

export function validatePatient(values: PatientFormValues, now: Date = new Date()): FieldErrors<PatientField> {
  const errors: FieldErrors<PatientField> = {};

  const name = values.name.trim();
  if (name.length === 0) errors.name = 'Enter the patient’s name.';
  else if (charCount(name) > NAME_MAX) errors.name = `Name must be at most ${NAME_MAX} characters.`;

  const email = values.email.trim();
  if (email && !isValidEmail(email)) errors.email = 'Enter a valid email address, like name@example.com.';

  const phone = values.phone.trim();
  if (phone && normalizePhone(phone) === null) {
    errors.phone = 'Enter the phone number in international format: + then 8 to 15 digits, e.g. +44 20 7946 0958.';
  }

  const dob = values.dateOfBirth.trim();
  if (dob) {
    if (!isIsoDate(dob)) errors.dateOfBirth = 'Enter the date as YYYY-MM-DD.';
    else if (dob > todayIso(now)) errors.dateOfBirth = 'Date of birth cannot be in the future.';
    else if (dob < EARLIEST_BIRTH_DATE) errors.dateOfBirth = 'Date of birth cannot be before 1900-01-01.';
  }

  if (charCount(values.medicalNotes) > NOTES_MAX) {
    errors.medicalNotes = `Medical notes must be at most ${NOTES_MAX.toLocaleString('en')} characters.`;
  }
  return errors;
}

/**
 * The request body for a valid form. For a new patient empty optional fields are left out; for an edit they are
 * sent as `null`, which clears them.
 */
export function toPatientInput(values: PatientFormValues, mode: 'create' | 'edit'): PatientInput {
  const empty = mode === 'edit' ? null : undefined;
  const opt = (v: string) => (v.trim() === '' ? empty : v.trim());
  const input: PatientInput = { name: values.name.trim() };
  const email = opt(values.email);
  const phone = values.phone.trim() === '' ? empty : (normalizePhone(values.phone) ?? values.phone.trim());
  const dateOfBirth = opt(values.dateOfBirth);
  const medicalNotes = values.medicalNotes.trim() === '' ? empty : values.medicalNotes;
  if (email !== undefined) input.email = email;
  if (phone !== undefined) input.phone = phone;
  if (dateOfBirth !== undefined) input.dateOfBirth = dateOfBirth;
  if (medicalNotes !== undefined) input.medicalNotes = medicalNotes;
  return input;
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
  if (charCount(trimmed) > MESSAGE_MAX) return `A message can be at most ${MESSAGE_MAX.toLocaleString('en')} characters.`;
  return null;
}
