import type { CountryCode } from 'libphonenumber-js/min';

/**
 * The clinic's country (ISO 3166-1 alpha-2): the region of phone numbers typed without a country code, and the
 * numbers shown in national format. `GET /clinic` will return it (`Clinic.country`); until the app reads it from
 * there, this is the one place it is set.
 */
export const DEFAULT_CLINIC_COUNTRY: CountryCode = 'US';

/** The active clinic's country. One function, so reading `GET /clinic` later changes nothing else. */
export function useClinicCountry(): CountryCode {
  return DEFAULT_CLINIC_COUNTRY;
}
