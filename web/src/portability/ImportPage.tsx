import { useRef, useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { isApiError, messageOf } from '../api';
import { importPatients } from '../api/portability';
import type { ImportReport } from '../api/types';
import { Alert } from '../components/Alert';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { useActiveClinic } from '../lib/clinic';
import { focusStatic } from '../lib/focus';
import { useDocumentTitle } from '../lib/hooks';
import { canImport, IMPORT_MAX_BYTES, importFormatOf, reportRows, reportSummary, type ImportFormat } from '../lib/importReport';

type Phase = 'dry-run' | 'refused' | 'imported';

/** The report as a table: row, field, problem (the same for a dry run and a refused import). */
export function ReportTable({ report, caption }: { report: ImportReport; caption: string }) {
  const rows = reportRows(report);
  if (rows.length === 0) return null;
  return (
    <div className="table-wrap">
      <table className="table table-compact import-report">
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Row</th>
            <th scope="col">Field</th>
            <th scope="col">Problem</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.key}>
              <th scope="row">{r.row}</th>
              <td>{r.field}</td>
              <td>
                {r.problem} <span className="muted small">({r.code})</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function refusalText(e: unknown): string {
  if (isApiError(e) && e.status === 413) return 'The file is larger than an import takes (10 MB). Split it into smaller files.';
  if (isApiError(e) && e.status === 415) return 'The server cannot read this kind of file: choose a CSV file or FHIR NDJSON.';
  if (isApiError(e) && (e.status === 404 || e.status === 405)) return 'This server cannot import patients yet.';
  if (isApiError(e) && e.status === 403) return 'Your role cannot import patients.';
  return messageOf(e);
}

/**
 * Import of patients from a CSV file (a header row naming the columns, as the CSV export writes them) or FHIR R4
 * NDJSON: first a dry run that checks every row and shows each problem (row, field, problem), then, when no row has
 * one, a confirmed import of them all. The import is all or nothing: if any row is refused, none is added.
 */
export function ImportPage() {
  useDocumentTitle('Import patients');
  const clinic = useActiveClinic();
  const input = useRef<HTMLInputElement>(null);
  const resultTitle = useRef<HTMLHeadingElement>(null);
  const [file, setFile] = useState<File | null>(null);
  const [format, setFormat] = useState<ImportFormat | null>(null);
  const [fileError, setFileError] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<'check' | 'import' | null>(null);
  const [result, setResult] = useState<{ phase: Phase; report: ImportReport } | null>(null);
  const [confirming, setConfirming] = useState(false);

  const show = (phase: Phase, report: ImportReport) => {
    setResult({ phase, report });
    requestAnimationFrame(() => focusStatic(resultTitle.current));
  };

  const choose = (f: File | null) => {
    setResult(null);
    setError(null);
    setFile(f);
    const fmt = f ? importFormatOf(f) : null;
    setFormat(fmt);
    if (!f) setFileError(null);
    else if (!fmt) setFileError('Choose a CSV file (.csv) or FHIR NDJSON (.ndjson).');
    else if (f.size > IMPORT_MAX_BYTES) setFileError('The file is larger than 10 MB: split it into smaller files.');
    else if (f.size === 0) setFileError('The file is empty.');
    else setFileError(null);
  };

  const check = async (e: FormEvent) => {
    e.preventDefault();
    if (!file || !format || fileError) {
      if (!file) setFileError('Choose a file first.');
      input.current?.focus();
      return;
    }
    setBusy('check');
    setError(null);
    setResult(null);
    try {
      const outcome = await importPatients(file, format, true);
      show(outcome.kind === 'refused' ? 'refused' : 'dry-run', outcome.report);
    } catch (err) {
      setError(refusalText(err));
    } finally {
      setBusy(null);
    }
  };

  const doImport = async () => {
    if (!file || !format) return;
    setBusy('import');
    setError(null);
    try {
      const outcome = await importPatients(file, format, false);
      setConfirming(false);
      show(outcome.kind === 'refused' ? 'refused' : 'imported', outcome.report);
    } catch (err) {
      setConfirming(false);
      setError(refusalText(err));
    } finally {
      setBusy(null);
    }
  };

  const report = result?.report;
  const ready = result?.phase === 'dry-run' && report && canImport(report);
  return (
    <div className="page">
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to="/patients">Patients</Link>
      </nav>
      <h1>Import patients</h1>
      <p>
        From a <strong>CSV</strong> file with a header row naming its columns (<code>name</code>, <code>email</code>,{' '}
        <code>phone</code>, <code>dateOfBirth</code>, <code>medicalNotes</code>, in any order, as the CSV export writes
        them) or <strong>FHIR R4 NDJSON</strong> (one <code>Patient</code> resource a line). Up to 10 MB. The file is
        checked first; nothing is added until you confirm, and then every row is added or, if any is refused, none.
      </p>
      <form onSubmit={check} noValidate className="card form">
        <div className={`field${fileError ? ' field-invalid' : ''}`}>
          <label htmlFor="import-file">File to import</label>
          <p id="import-file-hint" className="field-hint">
            .csv or .ndjson
          </p>
          <input
            ref={input}
            id="import-file"
            type="file"
            accept=".csv,.ndjson,.jsonl,text/csv,application/fhir+ndjson"
            aria-describedby={`import-file-hint${fileError ? ' import-file-error' : ''}`}
            aria-invalid={fileError ? true : undefined}
            onChange={(e) => choose(e.target.files?.[0] ?? null)}
          />
          {fileError && (
            <p id="import-file-error" className="field-error">
              <span className="visually-hidden">Error: </span>
              {fileError}
            </p>
          )}
        </div>
        <div className="form-actions">
          <button type="submit" className="btn btn-primary" disabled={busy !== null}>
            {busy === 'check' ? 'Checking…' : 'Check the file'}
          </button>
        </div>
      </form>
      {error && <Alert kind="error">{error}</Alert>}
      {result && report && (
        <section className="card import-result" aria-labelledby="import-result-title">
          <h2 id="import-result-title" ref={resultTitle} tabIndex={-1}>
            {result.phase === 'dry-run' ? 'Check result' : result.phase === 'refused' ? 'Nothing was imported' : 'Import complete'}
          </h2>
          <p className={result.phase === 'refused' ? 'import-refused' : undefined}>{reportSummary(report, result.phase)}</p>
          <dl className="import-counts">
            <div>
              <dt>Rows</dt>
              <dd>{report.rows.toLocaleString('en')}</dd>
            </div>
            <div>
              <dt>Can be imported</dt>
              <dd>{report.valid.toLocaleString('en')}</dd>
            </div>
            <div>
              <dt>With a problem</dt>
              <dd>{report.invalid.toLocaleString('en')}</dd>
            </div>
            {result.phase === 'imported' && (
              <div>
                <dt>Added</dt>
                <dd>{report.created.toLocaleString('en')}</dd>
              </div>
            )}
          </dl>
          <ReportTable report={report} caption={result.phase === 'imported' ? 'Notes on the import' : 'Problems found, by row'} />
          {ready && (
            <div className="form-actions">
              <button type="button" className="btn btn-primary" onClick={() => setConfirming(true)}>
                Import {report.valid.toLocaleString('en')} patient{report.valid === 1 ? '' : 's'}
              </button>
            </div>
          )}
          {result.phase === 'dry-run' && !ready && report.rows > 0 && (
            <p>Correct the rows above in the file, choose it again and check it again: an import takes every row or none.</p>
          )}
          {result.phase === 'imported' && (
            <p>
              <Link to="/patients">Go to the patients</Link>
            </p>
          )}
        </section>
      )}
      <ConfirmDialog
        open={confirming}
        title={`Import ${report?.valid ?? 0} patient${report?.valid === 1 ? '' : 's'}${clinic ? ` into ${clinic.name}` : ''}?`}
        confirmLabel="Import"
        busyLabel="Importing…"
        tone="primary"
        busy={busy === 'import'}
        onCancel={() => setConfirming(false)}
        onConfirm={() => void doImport()}
      >
        <p>Every row of {file?.name ?? 'the file'} is added as a new patient, in one step. Possible duplicates were reported in the check.</p>
      </ConfirmDialog>
    </div>
  );
}
