/**
 * Client-side copies of the api's field rules, so most mistakes are shown before a round trip.
 * The server stays the authority: its 422 `errors` are mapped onto the same fields ({@link mapServerErrors}).
 */
import type { CountryCode } from 'libphonenumber-js/min';
import type { PatientInput } from '../api/types';
import { DEFAULT_CLINIC_COUNTRY } from './country';
import { formatDate, formatNumber } from './format';
import { normalizeE164, phoneProblem, readPhone } from './phone';
import { charCount, EARLIEST_BIRTH_DATE, isValidEmail, NAME_MAX, NOTES_MAX, type FieldErrors } from './rules';

export * from './rules';

/**
 * Normalises a `+` phone number the way the api does: strip spaces, dashes, dots and brackets.
 * Returns the E.164 form (`+` and 8-15 digits) or `null` when it is not one. National numbers: see `readPhone`.
 */
export function normalizePhone(value: string): string | null {
  return normalizeE164(value);
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

export function validatePatient(
  values: PatientFormValues,
  now: Date = new Date(),
  country: CountryCode = DEFAULT_CLINIC_COUNTRY,
): FieldErrors<PatientField> {
  const errors: FieldErrors<PatientField> = {};

  const name = values.name.trim();
  if (name.length === 0) errors.name = 'Enter the patient’s name.';
  else if (charCount(name) > NAME_MAX) errors.name = `Name must be at most ${NAME_MAX} characters.`;

  const email = values.email.trim();
  if (email && !isValidEmail(email)) errors.email = 'Enter a valid email address, like name@example.com.';

  const phone = values.phone.trim();
  if (phone) {
    const check = readPhone(phone, country);
    if (!check.ok) errors.phone = phoneProblem(check.reason, country);
  }

  const dob = values.dateOfBirth.trim();
  if (dob) {
    if (!isIsoDate(dob)) errors.dateOfBirth = 'Enter the date as YYYY-MM-DD.';
    else if (dob > todayIso(now)) errors.dateOfBirth = 'Date of birth cannot be in the future.';
    else if (dob < EARLIEST_BIRTH_DATE) errors.dateOfBirth = `Date of birth cannot be before ${formatDate(EARLIEST_BIRTH_DATE)}.`;
  }

  if (charCount(values.medicalNotes) > NOTES_MAX) {
    errors.medicalNotes = `Medical notes must be at most ${formatNumber(NOTES_MAX, 'en')} characters.`;
  }
  return errors;
}

/**
 * The request body for a valid form. For a new patient empty optional fields are left out; for an edit they are
 * sent as `null`, which clears them.
 */
export function toPatientInput(
  values: PatientFormValues,
  mode: 'create' | 'edit',
  country: CountryCode = DEFAULT_CLINIC_COUNTRY,
): PatientInput {
  const empty = mode === 'edit' ? null : undefined;
  const opt = (v: string) => (v.trim() === '' ? empty : v.trim());
  const input: PatientInput = { name: values.name.trim() };
  const email = opt(values.email);
  // A number read in the clinic's country goes as E.164; anything else as typed, for the api to judge.
  const typedPhone = values.phone.trim();
  const read = typedPhone ? readPhone(typedPhone, country) : null;
  const phone = typedPhone === '' ? empty : read?.ok ? read.e164 : typedPhone;
  const dateOfBirth = opt(values.dateOfBirth);
  const medicalNotes = values.medicalNotes.trim() === '' ? empty : values.medicalNotes;
  if (email !== undefined) input.email = email;
  if (phone !== undefined) input.phone = phone;
  if (dateOfBirth !== undefined) input.dateOfBirth = dateOfBirth;
  if (medicalNotes !== undefined) input.medicalNotes = medicalNotes;
  return input;
}


/** The date of birth as typed in its three boxes. */
export interface DateParts {
  day: string;
  month: string;
  year: string;
}

export const EMPTY_DATE_PARTS: DateParts = { day: '', month: '', year: '' };

/** `1985-04-12` -> `{day: '12', month: '4', year: '1985'}`; anything else -> empty boxes. */
export function datePartsFromIso(iso: string | null | undefined): DateParts {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso ?? '');
  if (!m) return { ...EMPTY_DATE_PARTS };
  return { year: m[1] as string, month: String(Number(m[2])), day: String(Number(m[3])) };
}

export type DatePartsResult = { ok: true; iso: string } | { ok: false; error: string; part: keyof DateParts };

/**
 * The three boxes as `YYYY-MM-DD` (empty boxes: `''`, no date), or which box is wrong and why. The range rules
 * (not in the future, not before 1900) stay in {@link validatePatient}, on the composed date.
 */
export function readDateParts(parts: DateParts, label = 'Date of birth'): DatePartsResult {
  const day = parts.day.trim();
  const month = parts.month.trim();
  const year = parts.year.trim();
  if (!day && !month && !year) return { ok: true, iso: '' };
  const missing = (['day', 'month', 'year'] as const).filter((p) => !{ day, month, year }[p]);
  if (missing.length > 0) {
    const first = missing[0] as keyof DateParts;
    const names = missing.join(' and ');
    return { ok: false, part: first, error: `${label} must include a ${names}.` };
  }
  if (!/^\d{1,2}$/.test(day)) return { ok: false, part: 'day', error: 'Enter the day as a number, e.g. 12.' };
  if (!/^\d{1,2}$/.test(month)) return { ok: false, part: 'month', error: 'Enter the month as a number from 1 to 12.' };
  if (!/^\d{4}$/.test(year)) return { ok: false, part: 'year', error: 'Enter the year with 4 digits, e.g. 1985.' };
  if (Number(month) < 1 || Number(month) > 12) {
    return { ok: false, part: 'month', error: 'Enter the month as a number from 1 to 12.' };
  }
  const iso = `${year}-${pad(Number(month))}-${pad(Number(day))}`;
  if (!isIsoDate(iso)) return { ok: false, part: 'day', error: `Enter a real date: that month has no day ${Number(day)}.` };
  return { ok: true, iso };
}
