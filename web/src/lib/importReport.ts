/**
 * The import report (`ImportReport`, CONTRACT.md) as the import page shows it: a summary and one table row per
 * problem (row, field, problem). The same report comes from a dry run (200), a refused import (422, all or
 * nothing: the body is the report, or a problem+json that carries it) and a finished import.
 */
import type { ImportError, ImportReport } from '../api/types';

export const IMPORT_MAX_BYTES = 10 * 1024 * 1024;

export type ImportFormat = 'csv' | 'fhir';

export const IMPORT_CONTENT_TYPES: Record<ImportFormat, string> = {
  csv: 'text/csv',
  fhir: 'application/fhir+ndjson',
};

/** The format of a chosen file, from its name first (browsers rarely know NDJSON's type), then its type. */
export function importFormatOf(file: { name: string; type: string }): ImportFormat | null {
  const name = file.name.toLowerCase();
  if (name.endsWith('.csv')) return 'csv';
  if (name.endsWith('.ndjson') || name.endsWith('.jsonl') || name.endsWith('.json')) return 'fhir';
  const type = file.type.toLowerCase();
  if (type === 'text/csv' || type === 'application/vnd.ms-excel') return 'csv';
  if (type.includes('ndjson') || type.includes('fhir') || type === 'application/json') return 'fhir';
  return null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function readError(v: unknown): ImportError | null {
  if (!isObject(v)) return null;
  const code = typeof v.code === 'string' ? v.code : 'invalid';
  const message = typeof v.message === 'string' ? v.message : '';
  return {
    row: num(v.row) ?? 0,
    field: typeof v.field === 'string' && v.field !== '' ? v.field : null,
    code,
    message,
  };
}

/** An `ImportReport` from a response body (the report itself, or a problem that holds it), or null. */
export function readImportReport(body: unknown): ImportReport | null {
  if (!isObject(body)) return null;
  const source = isObject(body.report) ? body.report : body;
  const rows = num(source.rows);
  if (rows === null || !Array.isArray(source.errors)) return null;
  const errors = source.errors.map(readError).filter((e): e is ImportError => e !== null);
  const invalid = num(source.invalid) ?? new Set(errors.filter((e) => e.row > 0).map((e) => e.row)).size;
  return {
    rows,
    valid: num(source.valid) ?? Math.max(0, rows - invalid),
    invalid,
    errors,
    created: num(source.created) ?? 0,
  };
}

/** Field names as staff read them. */
const FIELD_WORDS: Record<string, string> = {
  name: 'Name',
  email: 'Email',
  phone: 'Phone',
  dateOfBirth: 'Date of birth',
  birthDate: 'Date of birth',
  medicalNotes: 'Medical notes',
  telecom: 'Phone / email',
  resourceType: 'Resource type',
};

/** Problems by code, when the api's message is missing. */
const CODE_WORDS: Record<string, string> = {
  required: 'Missing; this field is required.',
  invalid_email: 'Not a valid email address.',
  invalid_phone: 'Not a phone number the clinic can read.',
  invalid_date: 'Not a valid date (YYYY-MM-DD, not in the future).',
  too_long: 'Too long.',
  length: 'Wrong length.',
  duplicate: 'Looks like a patient already in the clinic or earlier in the file.',
  possible_duplicate: 'Looks like a patient already in the clinic or earlier in the file.',
  duplicate_in_file: 'The same patient appears earlier in the file.',
  unknown_column: 'A column the import does not know; it would be ignored.',
  unknown_field: 'A field the import does not know.',
  malformed: 'The line cannot be read.',
  invalid_json: 'The line is not valid JSON.',
  too_many_rows: 'The file has more rows than one import takes (50,000).',
};

export interface ReportRow {
  key: string;
  /** "3", or "Whole file" for a problem that is not in one row. */
  row: string;
  rowNumber: number;
  field: string;
  problem: string;
  code: string;
}

function fieldText(field: string | null): string {
  if (!field) return '—';
  return FIELD_WORDS[field] ?? field;
}

function problemText(e: ImportError): string {
  if (e.message) return e.message;
  return CODE_WORDS[e.code] ?? e.code.replace(/_/g, ' ');
}

/** The table: problems with the whole file first, then by row and field. */
export function reportRows(report: ImportReport): ReportRow[] {
  return [...report.errors]
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.row - b.e.row || (a.e.field ?? '').localeCompare(b.e.field ?? '') || a.i - b.i)
    .map(({ e, i }) => ({
      key: `${e.row}-${e.field ?? ''}-${i}`,
      row: e.row > 0 ? String(e.row) : 'Whole file',
      rowNumber: e.row,
      field: fieldText(e.field),
      problem: problemText(e),
      code: e.code,
    }));
}

const n = (v: number) => v.toLocaleString('en');
const patients = (v: number) => `${n(v)} patient${v === 1 ? '' : 's'}`;

/** One sentence on the report, for the summary above the table. */
export function reportSummary(report: ImportReport, phase: 'dry-run' | 'refused' | 'imported'): string {
  if (phase === 'imported') return `Imported ${patients(report.created)}.`;
  if (report.rows === 0) return 'The file has no patient rows.';
  const rows = `${n(report.rows)} row${report.rows === 1 ? '' : 's'}`;
  if (phase === 'refused') {
    return `Nothing was imported: ${n(report.invalid)} of ${rows} ${report.invalid === 1 ? 'has' : 'have'} a problem, and an import takes every row or none.`;
  }
  if (report.invalid === 0 && report.errors.length === 0) return `All ${rows} can be imported.`;
  if (report.invalid === 0) return `All ${rows} can be imported; see the notes below.`;
  return `${n(report.valid)} of ${rows} can be imported; ${n(report.invalid)} ${report.invalid === 1 ? 'has' : 'have'} a problem.`;
}

/** Whether the confirm step may be offered: rows to import and none refused (the import is all or nothing). */
export function canImport(report: ImportReport): boolean {
  return report.rows > 0 && report.invalid === 0 && report.valid > 0;
}
