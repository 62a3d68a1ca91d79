import { getCountries } from 'libphonenumber-js/min';
import { APP_LOCALE } from '../lib/format';

export interface CountryOption {
  code: string;
  name: string;
}

/** Every region the phone-number metadata knows, named in the display language, sorted by name. */
export function countryOptions(locale: string = APP_LOCALE): CountryOption[] {
  let names: Intl.DisplayNames | null = null;
  try {
    names = new Intl.DisplayNames([locale, 'en'], { type: 'region' });
  } catch {
    names = null;
  }
  return getCountries()
    .map((code) => ({ code, name: names?.of(code) ?? code }))
    .sort((a, b) => a.name.localeCompare(b.name, locale));
}
