/**
 * Every date and time the app shows goes through this file, in one locale: the browser's preferred language
 * (`navigator.language`), so a clinic in the US reads "Apr 12, 1985" and one in Spain "12 abr 1985". The date of
 * birth field ({@link dateFieldOrder}) puts its day, month and year boxes in the order this same formatter writes
 * them, so what staff type and what they read never follow two conventions.
 */

/** The locale of every formatted date, time and number. */
export const APP_LOCALE: string =
  (typeof navigator !== 'undefined' && (navigator.languages?.[0] ?? navigator.language)) || 'en-US';

const cache = new Map<string, Intl.DateTimeFormat>();

function formatter(locale: string, kind: 'date' | 'dateTime' | 'time'): Intl.DateTimeFormat {
  const key = `${locale}|${kind}`;
  let f = cache.get(key);
  if (!f) {
    const options: Intl.DateTimeFormatOptions =
      kind === 'date'
        ? { dateStyle: 'medium' }
        : kind === 'dateTime'
          ? { dateStyle: 'medium', timeStyle: 'short' }
          : { timeStyle: 'short' };
    try {
      f = new Intl.DateTimeFormat(locale, options);
    } catch {
      f = new Intl.DateTimeFormat('en-US', options);
    }
    cache.set(key, f);
  }
  return f;
}

/** The calendar date of `YYYY-MM-DD` as a local date (no time zone shift), or null. */
function calendarDate(isoDate: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(isoDate);
  if (!m) return null;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  // `new Date(1985, 0, 1)` maps years 0-99 to 1900-1999; set the year explicitly.
  d.setFullYear(Number(m[1]));
  return d;
}

/** `1985-04-12` -> `Apr 12, 1985` (en-US) / `12 Apr 1985` (en-GB): a calendar date, no time zone shift. */
export function formatDate(isoDate: string | null | undefined, locale: string = APP_LOCALE): string {
  if (!isoDate) return '';
  const d = calendarDate(isoDate);
  return d ? formatter(locale, 'date').format(d) : isoDate;
}

/** A timestamp as date and time in the browser's time zone. */
export function formatDateTime(ts: string | null | undefined, locale: string = APP_LOCALE): string {
  if (!ts) return '';
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? ts : formatter(locale, 'dateTime').format(d);
}

/** A timestamp's time of day in the browser's time zone. */
export function formatTime(ts: string | null | undefined, locale: string = APP_LOCALE): string {
  if (!ts) return '';
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? '' : formatter(locale, 'time').format(d);
}

/** A count as the locale writes it (`4,000`, `4.000`). */
export function formatNumber(n: number, locale: string = APP_LOCALE): string {
  try {
    return n.toLocaleString(locale);
  } catch {
    return String(n);
  }
}

export type DatePart = 'day' | 'month' | 'year';

/** The order in which {@link formatDate} writes day, month and year in `locale`. */
export function dateFieldOrder(locale: string = APP_LOCALE): DatePart[] {
  const parts = formatter(locale, 'date')
    .formatToParts(new Date(2000, 11, 31))
    .map((p) => p.type)
    .filter((t): t is DatePart => t === 'day' || t === 'month' || t === 'year');
  return parts.length === 3 && new Set(parts).size === 3 ? parts : ['day', 'month', 'year'];
}

/** Whole years between a date of birth and `now`, or null for a malformed date. */
export function ageOn(dob: string, now: Date = new Date()): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(dob);
  if (!m) return null;
  let age = now.getFullYear() - Number(m[1]);
  const month = now.getMonth() + 1;
  if (month < Number(m[2]) || (month === Number(m[2]) && now.getDate() < Number(m[3]))) age -= 1;
  return age;
}

/** "5 minutes ago", "yesterday", "3 days ago": for recent events such as the last emergency. */
export function formatRelative(ts: string, now: Date = new Date(), locale: string = APP_LOCALE): string {
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return '';
  const seconds = Math.round((d.getTime() - now.getTime()) / 1000);
  const abs = Math.abs(seconds);
  let rtf: Intl.RelativeTimeFormat;
  try {
    rtf = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
  } catch {
    rtf = new Intl.RelativeTimeFormat('en-US', { numeric: 'auto' });
  }
  if (abs < 60) return rtf.format(0, 'second');
  if (abs < 3600) return rtf.format(Math.round(seconds / 60), 'minute');
  if (abs < 86_400) return rtf.format(Math.round(seconds / 3600), 'hour');
  if (abs < 30 * 86_400) return rtf.format(Math.round(seconds / 86_400), 'day');
  return formatter(locale, 'date').format(d);
}
