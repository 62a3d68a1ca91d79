import { api } from './index';
import type { Patient, PatientInput, PatientPage } from './types';

export interface PatientQuery {
  page: number;
  limit: number;
  q?: string;
}

export function listPatients({ page, limit, q }: PatientQuery, signal?: AbortSignal): Promise<PatientPage> {
  const params = new URLSearchParams({ page: String(page), limit: String(limit) });
  if (q) params.set('q', q);
  return api.request<PatientPage>('GET', `/patients?${params}`, undefined, { signal });
}

export function getPatient(id: string, signal?: AbortSignal): Promise<Patient> {
  return api.request<Patient>('GET', `/patients/${encodeURIComponent(id)}`, undefined, { signal });
}

export function createPatient(input: PatientInput): Promise<Patient> {
  return api.request<Patient>('POST', '/patients', input);
}

export function updatePatient(id: string, input: Partial<PatientInput>): Promise<Patient> {
  return api.request<Patient>('PATCH', `/patients/${encodeURIComponent(id)}`, input);
}

export function deletePatient(id: string): Promise<void> {
  return api.request<void>('DELETE', `/patients/${encodeURIComponent(id)}`);
}
