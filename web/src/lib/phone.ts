/**
 * Phone numbers as a front desk types and reads them, with libphonenumber-js (Google's libphonenumber metadata:
 * national formats, possible lengths and international prefixes of every region).
 *
 * - Shown: national format when the number belongs to the clinic's country (`(555) 010-2000`), international
 *   otherwise (`+44 20 7946 0958`).
 * - Typed: `+` and the country code as before, or a national number of the clinic's country
 *   (`(555) 010-2000`, or `011 44 20 7946 0958` with the international prefix), which is sent as E.164.
 */
import {
  getCountryCallingCode,
  parsePhoneNumberFromString,
  validatePhoneNumberLength,
  type CountryCode,
} from 'libphonenumber-js/min';

/** The characters a phone number may be typed with. */
const TYPED = /^\+?[0-9\s\-.()]+$/;

/** `+` and 8-15 digits after removing spaces, dashes, dots and brackets: the api's E.164 rule for `+` numbers. */
export function normalizeE164(value: string): string | null {
  const stripped = value.trim().replace(/[\s\-.()]/g, '');
  return /^\+[0-9]{8,15}$/.test(stripped) ? stripped : null;
}

export type PhoneCheck = { ok: true; e164: string } | { ok: false; reason: 'characters' | 'short' | 'long' | 'invalid' };

/**
 * Reads a typed phone number. `+` numbers follow the api's E.164 rule; anything else is read as a number of
 * `country` (a national number, or one dialled with that country's international prefix).
 */
export function readPhone(value: string, country: CountryCode): PhoneCheck {
  const typed = value.trim();
  if (!TYPED.test(typed) || typed.indexOf('+') > 0) return { ok: false, reason: 'characters' };
  if (typed.startsWith('+')) {
    const e164 = normalizeE164(typed);
    if (e164) return { ok: true, e164 };
    const digits = typed.replace(/\D/g, '').length;
    return { ok: false, reason: digits < 8 ? 'short' : digits > 15 ? 'long' : 'invalid' };
  }
  const length = validatePhoneNumberLength(typed, country);
  if (length === 'TOO_SHORT') return { ok: false, reason: 'short' };
  if (length === 'TOO_LONG') return { ok: false, reason: 'long' };
  if (length) return { ok: false, reason: 'invalid' };
  const parsed = parsePhoneNumberFromString(typed, country);
  const e164 = parsed ? normalizeE164(parsed.number) : null;
  return e164 ? { ok: true, e164 } : { ok: false, reason: 'invalid' };
}

let regionNames: Intl.DisplayNames | null | undefined;

/** `US` -> `United States` (English, like the rest of the app's text). */
export function countryName(country: CountryCode): string {
  if (regionNames === undefined) {
    try {
      regionNames = new Intl.DisplayNames(['en'], { type: 'region' });
    } catch {
      regionNames = null;
    }
  }
  return regionNames?.of(country) ?? country;
}

/** The field's hint: how to type a number for this clinic. */
export function phoneHint(country: CountryCode): string {
  return `Local numbers (${countryName(country)}) as you dial them; numbers abroad with + and the country code, e.g. +44 20 7946 0958.`;
}

/** The message for a number {@link readPhone} refused. */
export function phoneProblem(reason: Exclude<PhoneCheck, { ok: true }>['reason'], country: CountryCode): string {
  const how = `Type a local number (${countryName(country)}) as you dial it, or + and the country code.`;
  switch (reason) {
    case 'characters':
      return `Use digits, spaces, dashes or brackets only. ${how}`;
    case 'short':
      return `This number is too short. ${how}`;
    case 'long':
      return `This number is too long. ${how}`;
    default:
      return `This is not a valid phone number. ${how}`;
  }
}

/** Whether `e164` belongs to `country` (by its region, or by its calling code when the region is unknown). */
function isDomestic(e164: string, country: CountryCode): boolean {
  const parsed = parsePhoneNumberFromString(e164);
  if (!parsed) return false;
  if (parsed.country) return parsed.country === country;
  try {
    return parsed.countryCallingCode === getCountryCallingCode(country);
  } catch {
    return false;
  }
}

/** A stored (E.164) number for display: national in the clinic's country, international otherwise. */
export function formatPhone(stored: string | null | undefined, country: CountryCode): string {
  if (!stored) return '';
  const parsed = parsePhoneNumberFromString(stored, country);
  if (!parsed) return stored;
  return isDomestic(parsed.number, country) ? parsed.formatNational() : parsed.formatInternational();
}

/** A `tel:` link for a stored number (RFC 3966). */
export function phoneHref(stored: string): string {
  const parsed = parsePhoneNumberFromString(stored);
  return parsed ? parsed.getURI() : `tel:${stored.replace(/[^\d+]/g, '')}`;
}

/** What a typed number will be saved as, for a hint under the field ("Saved as +1 555 010 2000"). */
export function phonePreview(value: string, country: CountryCode): string | null {
  const check = readPhone(value, country);
  if (!check.ok) return null;
  const parsed = parsePhoneNumberFromString(check.e164);
  return parsed ? parsed.formatInternational() : check.e164;
}
