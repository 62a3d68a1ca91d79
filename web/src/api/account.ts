import { api } from './index';
import type { MfaRecoveryCodes, MfaSetup, SessionInfo, SessionList } from './types';

export async function listSessions(signal?: AbortSignal): Promise<SessionInfo[]> {
  return (await api.request<SessionList>('GET', '/auth/sessions', undefined, { signal })).items;
}

export function revokeSession(id: string): Promise<void> {
  return api.request<void>('DELETE', `/auth/sessions/${encodeURIComponent(id)}`);
}

/** 204; every other session is signed out. */
export function changePassword(currentPassword: string, newPassword: string): Promise<void> {
  return api.request<void>('POST', '/auth/password', { currentPassword, newPassword });
}

/** A new secret (not active until confirmed with a first code). */
export function startMfaSetup(password: string): Promise<MfaSetup> {
  return api.request<MfaSetup>('POST', '/auth/mfa/setup', { password });
}

/** Turns two-step sign-in on; the answer holds the ten recovery codes, shown once. */
export function enableMfa(code: string): Promise<MfaRecoveryCodes> {
  return api.request<MfaRecoveryCodes>('POST', '/auth/mfa/enable', { code });
}

export function disableMfa(password: string, code: string): Promise<void> {
  return api.request<void>('POST', '/auth/mfa/disable', { password, code });
}
