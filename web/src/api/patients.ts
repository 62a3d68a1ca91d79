import { api } from './index';
import { isApiError } from './errors';
import type { Patient, PatientInput, PatientPage } from './types';

/** The orders `GET /patients?sort=` accepts (CONTRACT.md); `-createdAt` (newest first) is the api's default. */
export const PATIENT_SORTS = ['-createdAt', 'name', '-name', 'dateOfBirth', '-updatedAt'] as const;
export type PatientSort = (typeof PATIENT_SORTS)[number];
export const DEFAULT_PATIENT_SORT: PatientSort = '-createdAt';

export function isPatientSort(value: string | null | undefined): value is PatientSort {
  return (PATIENT_SORTS as readonly string[]).includes(value ?? '');
}

export interface PatientQuery {
  page: number;
  limit: number;
  q?: string;
  /** Sent only when the user picked an order: the api's default needs no parameter (and older apis refuse it). */
  sort?: PatientSort | null;
}

/** `/patients?page=..&limit=..[&q=..][&sort=..]`. */
export function patientListPath({ page, limit, q, sort }: PatientQuery): string {
  const params = new URLSearchParams({ page: String(page), limit: String(limit) });
  if (q) params.set('q', q);
  if (sort) params.set('sort', sort);
  return `/patients?${params}`;
}

/** An api from before `sort` existed answers 400 `invalid_query` naming the parameter. */
export function isSortRefusal(e: unknown): boolean {
  return isApiError(e) && e.status === 400 && e.code === 'invalid_query' && /\bsort\b/.test(e.problem?.detail ?? e.message);
}

/** Whether this api sorts the list (unknown until a sorted request was answered or refused). */
let sortSupported: boolean | null = null;

export function patientSortSupported(): boolean | null {
  return sortSupported;
}

export interface PatientListResult {
  page: PatientPage;
  /** The order the api applied, or null when it refused `sort` and gave its default order. */
  sortApplied: PatientSort | null;
}

/**
 * One page of patients. With a `sort` the api does not know yet, asks again without it (default order) and
 * remembers that sorting is unavailable, so the screen can say so and stop offering it.
 */
export async function listPatients(query: PatientQuery, signal?: AbortSignal): Promise<PatientListResult> {
  const sort = sortSupported === false ? null : (query.sort ?? null);
  if (!sort) {
    const page = await api.request<PatientPage>('GET', patientListPath({ ...query, sort: null }), undefined, { signal });
    return { page, sortApplied: null };
  }
  try {
    const page = await api.request<PatientPage>('GET', patientListPath({ ...query, sort }), undefined, { signal });
    sortSupported = true;
    return { page, sortApplied: sort };
  } catch (e) {
    if (!isSortRefusal(e)) throw e;
    sortSupported = false;
    const page = await api.request<PatientPage>('GET', patientListPath({ ...query, sort: null }), undefined, { signal });
    return { page, sortApplied: null };
  }
}

export function getPatient(id: string, signal?: AbortSignal): Promise<Patient> {
  return api.request<Patient>('GET', `/patients/${encodeURIComponent(id)}`, undefined, { signal });
}

/**
 * `POST /patients`. A likely duplicate is 409 `possible_duplicate` with the existing ids in `duplicates`; with
 * `confirmDuplicate` the same request saves it anyway.
 */
export function createPatient(input: PatientInput, { confirmDuplicate = false } = {}): Promise<Patient> {
  return api.request<Patient>('POST', confirmDuplicate ? '/patients?confirmDuplicate=true' : '/patients', input);
}

/** The ids a 409 `possible_duplicate` names (empty for any other error). */
export function duplicateIds(e: unknown): string[] {
  if (!isApiError(e) || e.status !== 409 || e.code !== 'possible_duplicate') return [];
  // The body is the server's: anything but a list of strings names nobody (and must not throw in the form).
  const ids: unknown = e.problem?.duplicates;
  return Array.isArray(ids) ? ids.filter((id): id is string => typeof id === 'string') : [];
}

export function updatePatient(id: string, input: Partial<PatientInput>): Promise<Patient> {
  return api.request<Patient>('PATCH', `/patients/${encodeURIComponent(id)}`, input);
}

export function deletePatient(id: string): Promise<void> {
  return api.request<void>('DELETE', `/patients/${encodeURIComponent(id)}`);
}
