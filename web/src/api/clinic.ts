import { api } from './index';
import type {
  AccessEventPage,
  Clinic,
  ClinicRole,
  ClinicStats,
  Invitation,
  InvitationList,
  Member,
  MemberList,
  Patient,
  Session,
  TrashPage,
  UpdateClinicRequest,
} from './types';

const enc = encodeURIComponent;

export function getClinic(signal?: AbortSignal): Promise<Clinic> {
  return api.request<Clinic>('GET', '/clinic', undefined, { signal });
}

export function updateClinic(change: UpdateClinicRequest): Promise<Clinic> {
  return api.request<Clinic>('PATCH', '/clinic', change);
}

export async function listMembers(signal?: AbortSignal): Promise<Member[]> {
  return (await api.request<MemberList>('GET', '/clinic/members', undefined, { signal })).items;
}

export function changeMemberRole(userId: string, role: ClinicRole): Promise<Member> {
  return api.request<Member>('PATCH', `/clinic/members/${enc(userId)}`, { role });
}

export function removeMember(userId: string): Promise<void> {
  return api.request<void>('DELETE', `/clinic/members/${enc(userId)}`);
}

export function invite(email: string, role: ClinicRole): Promise<Invitation> {
  return api.request<Invitation>('POST', '/clinic/invitations', { email, role });
}

export async function listInvitations(signal?: AbortSignal): Promise<Invitation[]> {
  return (await api.request<InvitationList>('GET', '/clinic/invitations', undefined, { signal })).items;
}

export function revokeInvitation(id: string): Promise<void> {
  return api.request<void>('DELETE', `/clinic/invitations/${enc(id)}`);
}

/** Signed in as the invited email: joins the clinic; the answer is a session acting for it. */
export function acceptInvitation(token: string): Promise<Session> {
  return api.request<Session>('POST', `/invitations/${enc(token)}/accept`, {}, { credentials: 'include' });
}

/** A session whose token names another of the user's clinics. */
export function switchClinic(clinicId: string): Promise<Session> {
  return api.request<Session>('POST', '/auth/switch-clinic', { clinicId }, { credentials: 'include' });
}

export function listTrash(page: number, limit: number, signal?: AbortSignal): Promise<TrashPage> {
  const params = new URLSearchParams({ page: String(page), limit: String(limit) });
  return api.request<TrashPage>('GET', `/patients/trash?${params}`, undefined, { signal });
}

export function restorePatient(id: string): Promise<Patient> {
  return api.request<Patient>('POST', `/patients/${enc(id)}/restore`, {});
}

/** One page of a patient's access log: by number, or after a keyset `cursor` when the api gives one. */
export function getAccessLog(
  patientId: string,
  query: { page: number; limit: number; cursor?: string | null },
  signal?: AbortSignal,
): Promise<AccessEventPage> {
  const params = new URLSearchParams({ page: String(query.page), limit: String(query.limit) });
  if (query.cursor) params.set('cursor', query.cursor);
  return api.request<AccessEventPage>('GET', `/patients/${enc(patientId)}/access-log?${params}`, undefined, { signal });
}

export function getClinicStats(from: string, to: string, signal?: AbortSignal): Promise<ClinicStats> {
  const params = new URLSearchParams({ from, to });
  return api.request<ClinicStats>('GET', `/clinic/stats?${params}`, undefined, { signal });
}
