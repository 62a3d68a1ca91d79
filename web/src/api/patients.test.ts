import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from './errors';
import { api } from './index';
import { createPatient, duplicateIds, isPatientSort, isSortRefusal, listPatients, patientListPath, patientSortSupported, PATIENT_SORTS } from './patients';
import type { Problem } from './types';

const page = { items: [], page: 1, limit: 20, total: 0 };
const refusal = (detail: string) =>
  new ApiError(400, { type: 't', title: 'Bad request', status: 400, detail, code: 'invalid_query' } satisfies Problem);

describe('patientListPath', () => {
  it('sends no sort for the default order, so an api without sorting keeps working', () => {
    expect(patientListPath({ page: 1, limit: 20 })).toBe('/patients?page=1&limit=20');
    expect(patientListPath({ page: 2, limit: 20, q: '', sort: null })).toBe('/patients?page=2&limit=20');
  });

  it('adds the search and a chosen order, encoded', () => {
    expect(patientListPath({ page: 1, limit: 20, q: 'García & co', sort: '-name' })).toBe(
      '/patients?page=1&limit=20&q=Garc%C3%ADa+%26+co&sort=-name',
    );
    expect(patientListPath({ page: 3, limit: 50, sort: 'dateOfBirth' })).toBe('/patients?page=3&limit=50&sort=dateOfBirth');
  });

  it('knows the contract’s orders and nothing else', () => {
    expect(PATIENT_SORTS).toEqual(['-createdAt', 'name', '-name', 'dateOfBirth', '-updatedAt']);
    expect(isPatientSort('-updatedAt')).toBe(true);
    expect(isPatientSort('updatedAt')).toBe(false);
    expect(isPatientSort(null)).toBe(false);
  });
});

describe('sorting on an api that does not know `sort` yet', () => {
  afterEach(() => vi.restoreAllMocks());

  it('recognises the refusal by its code and the parameter it names', () => {
    expect(isSortRefusal(refusal('Invalid query string: sort: unknown field `sort`, expected one of `page`'))).toBe(true);
    expect(isSortRefusal(refusal('Invalid query string: page: invalid digit'))).toBe(false);
    expect(isSortRefusal(new ApiError(500, null))).toBe(false);
    expect(isSortRefusal(new Error('sort'))).toBe(false);
  });

  it('asks again without sort, then stops sending it', async () => {
    const request = vi.spyOn(api, 'request').mockImplementation(async (_m: string, path: string) => {
      if (path.includes('sort=')) throw refusal('Invalid query string: sort: unknown field `sort`');
      return page;
    });
    const first = await listPatients({ page: 1, limit: 20, sort: 'name' });
    expect(first).toEqual({ page, sortApplied: null });
    expect(request.mock.calls.map((c) => c[1])).toEqual(['/patients?page=1&limit=20&sort=name', '/patients?page=1&limit=20']);
    expect(patientSortSupported()).toBe(false);
    request.mockClear();
    await listPatients({ page: 1, limit: 20, sort: '-name' });
    expect(request.mock.calls.map((c) => c[1])).toEqual(['/patients?page=1&limit=20']);
  });
});

describe('duplicates on create', () => {
  afterEach(() => vi.restoreAllMocks());
  const conflict = (code: string, duplicates?: unknown) =>
    new ApiError(409, { type: 't', title: 'Conflict', status: 409, detail: 'd', code, duplicates } as Problem);

  it('reads the ids of a 409 possible_duplicate and nothing from other errors', () => {
    expect(duplicateIds(conflict('possible_duplicate', ['a', 'b']))).toEqual(['a', 'b']);
    expect(duplicateIds(conflict('email_taken', ['a']))).toEqual([]);
    expect(duplicateIds(conflict('possible_duplicate', 'a'))).toEqual([]);
    expect(duplicateIds(conflict('possible_duplicate', [1, 'c']))).toEqual(['c']);
    expect(duplicateIds(new Error('offline'))).toEqual([]);
  });

  it('sends the same body again with confirmDuplicate=true when saving anyway', async () => {
    const request = vi.spyOn(api, 'request').mockResolvedValue({ id: 'p' });
    const input = { name: 'Ana Ruiz', dateOfBirth: '1990-02-03' };
    await createPatient(input);
    await createPatient(input, { confirmDuplicate: true });
    expect(request.mock.calls).toEqual([
      ['POST', '/patients', input],
      ['POST', '/patients?confirmDuplicate=true', input],
    ]);
  });
});
