/**
 * What each role sees (CONTRACT.md, "Clinics, roles and records"). The api enforces every rule; the screens follow
 * them so nobody is offered a field or a page the api would refuse:
 * - `owner`: everything, and the clinic's own pages (members, invitations, trash, access logs, overview);
 * - `clinician`: patients with every field, the assistant, export and import;
 * - `reception`: patients' name, email, phone and date of birth: no medical notes, no assistant.
 * A session from an api without clinics names no clinic: the user works as before (all of their patients' fields
 * and the assistant), and the pages that need the clinic routes are not offered.
 */
import type { ClinicRole, User } from '../api/types';

export type Capability =
  /** See and edit `medicalNotes`. */
  | 'notes'
  /** The assistant conversation. */
  | 'chat'
  /** Export and import of the clinic's patients. */
  | 'portability'
  /** The clinic page, members and invitations, the trash, access logs and the overview. */
  | 'clinic-admin';

export const ROLE_LABELS: Record<ClinicRole, string> = {
  owner: 'Owner',
  clinician: 'Clinician',
  reception: 'Reception',
};

export const ROLE_DESCRIPTIONS: Record<ClinicRole, string> = {
  owner: 'Everything, including members, invitations, the trash, access logs and the overview.',
  clinician: 'Patients with their medical notes, the assistant, export and import.',
  reception: 'Patients’ names, contact details and dates of birth only: no medical notes, no assistant.',
};

export const CLINIC_ROLES: readonly ClinicRole[] = ['owner', 'clinician', 'reception'];

export function isClinicRole(value: unknown): value is ClinicRole {
  return typeof value === 'string' && (CLINIC_ROLES as readonly string[]).includes(value);
}

/** The user's role in the active clinic, or null when the api has no clinics. */
export function clinicRole(user: Pick<User, 'clinic'> | null | undefined): ClinicRole | null {
  const role = user?.clinic?.role;
  return isClinicRole(role) ? role : null;
}

/** Whether a user with `role` (null: an api without clinics) may use `what`. */
export function roleCan(role: ClinicRole | null, what: Capability): boolean {
  switch (what) {
    case 'notes':
    case 'chat':
      return role !== 'reception';
    case 'portability':
      return role === 'owner' || role === 'clinician';
    case 'clinic-admin':
      return role === 'owner';
    default:
      return false;
  }
}

export function can(user: Pick<User, 'clinic'> | null | undefined, what: Capability): boolean {
  return roleCan(clinicRole(user), what);
}

/** "Owner", "a clinician", ...: a role in a sentence. */
export function roleInSentence(role: ClinicRole): string {
  return role === 'owner' ? 'an owner' : role === 'clinician' ? 'a clinician' : 'reception';
}
