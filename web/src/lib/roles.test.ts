import { describe, expect, it } from 'vitest';
import { can, clinicRole, roleCan, type Capability } from './roles';

const caps: Capability[] = ['notes', 'chat', 'portability', 'clinic-admin'];
const table = (role: Parameters<typeof roleCan>[0]) => Object.fromEntries(caps.map((c) => [c, roleCan(role, c)]));

describe('role-aware screens', () => {
  it('owners see everything', () => {
    expect(table('owner')).toEqual({ notes: true, chat: true, portability: true, 'clinic-admin': true });
  });
  it('clinicians see patients with notes, the assistant, export and import, but no owner pages', () => {
    expect(table('clinician')).toEqual({ notes: true, chat: true, portability: true, 'clinic-admin': false });
  });
  it('reception sees no notes, no assistant, no export or import, no owner pages', () => {
    expect(table('reception')).toEqual({ notes: false, chat: false, portability: false, 'clinic-admin': false });
  });
  it('an api without clinics: notes and the assistant as before, no pages that need the clinic routes', () => {
    expect(table(null)).toEqual({ notes: true, chat: true, portability: false, 'clinic-admin': false });
  });
  it('reads the role of the active clinic, ignoring unknown roles', () => {
    expect(clinicRole({ clinic: { id: 'c', name: 'C', role: 'reception' } })).toBe('reception');
    expect(clinicRole({ clinic: { id: 'c', name: 'C', role: 'janitor' as never } })).toBeNull();
    expect(clinicRole({})).toBeNull();
    expect(can({ clinic: { id: 'c', name: 'C', role: 'reception' } }, 'chat')).toBe(false);
    expect(can(null, 'notes')).toBe(true);
  });
});
