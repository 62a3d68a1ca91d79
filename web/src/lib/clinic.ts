import { useEffect, useSyncExternalStore } from 'react';
import type { CountryCode } from 'libphonenumber-js/min';
import { countryOf } from './country';
import { getClinic } from '../api/clinic';
import type { Clinic } from '../api/types';
import { useAuth } from '../auth/AuthContext';

export { countryOf, DEFAULT_CLINIC_COUNTRY } from './country';

/**
 * The active clinic, fetched once per clinic id and shared by every screen (the header, the forms, the clinic
 * page). `remember` after a `PATCH /clinic` puts the new values in at once.
 */
const clinics = new Map<string, Clinic>();
const loading = new Map<string, Promise<void>>();
const listeners = new Set<() => void>();

function emit() {
  for (const l of listeners) l();
}

function subscribe(listener: () => void) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function rememberClinic(clinic: Clinic): void {
  clinics.set(clinic.id, clinic);
  emit();
}

/** Loads the clinic once; a failure (403 under a forced set-up, an old api) leaves the default in place. */
export function loadClinic(id: string): Promise<void> {
  const known = loading.get(id);
  if (known) return known;
  const p = getClinic()
    .then((c) => rememberClinic(c))
    .catch(() => {
      loading.delete(id);
    });
  loading.set(id, p);
  return p;
}

/** Forgets everything (signing out, switching clinic reloads what is needed). */
export function forgetClinics(): void {
  clinics.clear();
  loading.clear();
  emit();
}

/** The active clinic once `GET /clinic` answered; null before, and with an api without clinics. */
export function useActiveClinic(): Clinic | null {
  const { state, mfaSetupRequired } = useAuth();
  const id = state.status === 'authenticated' ? (state.user.clinic?.id ?? null) : null;
  useEffect(() => {
    if (id && !mfaSetupRequired) void loadClinic(id);
  }, [id, mfaSetupRequired]);
  return useSyncExternalStore(subscribe, () => (id ? (clinics.get(id) ?? null) : null));
}

/** The active clinic's country. */
export function useClinicCountry(): CountryCode {
  return countryOf(useActiveClinic());
}
