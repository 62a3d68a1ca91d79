import { describe, expect, it } from 'vitest';
import { canImport, importFormatOf, readImportReport, reportRows, reportSummary } from './importReport';

const report = {
  rows: 4,
  valid: 2,
  invalid: 2,
  created: 0,
  errors: [
    { row: 3, field: 'email', code: 'invalid_email', message: 'Not a valid email address.' },
    { row: 1, field: 'dateOfBirth', code: 'invalid_date', message: '' },
    { row: 0, field: 'colour', code: 'unknown_column', message: '' },
    { row: 3, field: 'name', code: 'required', message: 'Name is required.' },
  ],
};

describe('import report', () => {
  it('reads the report from a dry run, and from a 422 problem that carries it', () => {
    expect(readImportReport(report)).toEqual(report);
    const problem = { type: 'x', title: 'x', status: 422, code: 'import_invalid', detail: 'No', report };
    expect(readImportReport(problem)).toEqual(report);
    expect(readImportReport({ status: 422, code: 'validation_failed', errors: [] })).toBeNull();
    expect(readImportReport(null)).toBeNull();
  });

  it('fills counts the api left out from the errors', () => {
    expect(readImportReport({ rows: 3, errors: [{ row: 2, field: 'email', code: 'invalid_email' }] })).toEqual({
      rows: 3,
      valid: 2,
      invalid: 1,
      created: 0,
      errors: [{ row: 2, field: 'email', code: 'invalid_email', message: '' }],
    });
  });

  it('renders a table by row then field, the whole file first, with words for codes and fields', () => {
    const rows = reportRows(report);
    expect(rows.map((r) => [r.row, r.field, r.problem])).toEqual([
      ['Whole file', 'colour', 'A column the import does not know; it would be ignored.'],
      ['1', 'Date of birth', 'Not a valid date (YYYY-MM-DD, not in the future).'],
      ['3', 'Email', 'Not a valid email address.'],
      ['3', 'Name', 'Name is required.'],
    ]);
    expect(new Set(rows.map((r) => r.key)).size).toBe(rows.length);
  });

  it('says what happened, and offers the import only when no row has a problem', () => {
    expect(reportSummary(report, 'dry-run')).toBe('2 of 4 rows can be imported; 2 have a problem.');
    expect(reportSummary(report, 'refused')).toBe('Nothing was imported: 2 of 4 rows have a problem, and an import takes every row or none.');
    expect(reportSummary({ ...report, created: 4 }, 'imported')).toBe('Imported 4 patients.');
    expect(reportSummary({ rows: 1, valid: 1, invalid: 0, errors: [], created: 0 }, 'dry-run')).toBe('All 1 row can be imported.');
    expect(reportSummary({ rows: 0, valid: 0, invalid: 0, errors: [], created: 0 }, 'dry-run')).toBe('The file has no patient rows.');
    expect(canImport(report)).toBe(false);
    expect(canImport({ rows: 2, valid: 2, invalid: 0, errors: [], created: 0 })).toBe(true);
    expect(canImport({ rows: 0, valid: 0, invalid: 0, errors: [], created: 0 })).toBe(false);
  });

  it('knows the file format from its name first', () => {
    expect(importFormatOf({ name: 'Patients.CSV', type: '' })).toBe('csv');
    expect(importFormatOf({ name: 'export.ndjson', type: 'application/octet-stream' })).toBe('fhir');
    expect(importFormatOf({ name: 'data', type: 'text/csv' })).toBe('csv');
    expect(importFormatOf({ name: 'photo.png', type: 'image/png' })).toBeNull();
  });
});
