import type { CountryCode } from 'libphonenumber-js/min';
import type { Clinic } from '../api/types';

/**
 * The clinic's country (ISO 3166-1 alpha-2): the region of phone numbers typed without a country code, and the
 * numbers shown in national format. It is `GET /clinic`'s `country` (`useClinicCountry`, lib/clinic.ts); this
 * default applies until that answer is in, and with an api without clinics.
 */
export const DEFAULT_CLINIC_COUNTRY: CountryCode = 'US';

/** A country code as the api sends it, or the default for anything that is not two letters. */
export function countryOf(clinic: Pick<Clinic, 'country'> | null | undefined): CountryCode {
  const c = clinic?.country?.toUpperCase();
  return c && /^[A-Z]{2}$/.test(c) ? (c as CountryCode) : DEFAULT_CLINIC_COUNTRY;
}
