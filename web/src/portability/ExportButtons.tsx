import { useState } from 'react';
import { isApiError, messageOf } from '../api';
import { EXPORT_FORMATS, pickSaveTarget, saveExport, type ExportFormat } from '../api/portability';
import { Alert } from '../components/Alert';

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * Export of the clinic's patients (owners and clinicians): FHIR R4 NDJSON or CSV. Where the browser can write a
 * file as it arrives, it asks where to save and streams to disk; elsewhere the file downloads when complete.
 */
export function ExportButtons() {
  const [busy, setBusy] = useState<ExportFormat | null>(null);
  const [progress, setProgress] = useState(0);
  const [notes, setNotes] = useState(false);
  const [status, setStatus] = useState<{ kind: 'success' | 'error'; text: string } | null>(null);

  const run = async (format: ExportFormat) => {
    setStatus(null);
    // First, while the click still counts as the user's: the save picker needs it.
    const target = await pickSaveTarget(format);
    if (!target) return;
    setBusy(format);
    setProgress(0);
    try {
      const bytes = await saveExport(format, notes, target, setProgress);
      setStatus({
        kind: 'success',
        text: `Exported ${size(bytes)} as ${EXPORT_FORMATS[format].label}${target.kind === 'download' ? ` (${target.name}, in your downloads)` : ''}.`,
      });
    } catch (e) {
      const text =
        isApiError(e) && (e.status === 404 || e.status === 405)
          ? 'This server cannot export patients yet.'
          : isApiError(e) && e.status === 403
            ? 'Your role cannot export patients.'
            : `The export failed: ${messageOf(e)}`;
      setStatus({ kind: 'error', text });
    } finally {
      setBusy(null);
    }
  };

  return (
    <section className="export" aria-labelledby="export-title">
      <h2 id="export-title" className="export-title">
        Export
      </h2>
      <div className="export-row">
        {(Object.keys(EXPORT_FORMATS) as ExportFormat[]).map((f) => (
          <button key={f} type="button" className="btn btn-secondary btn-small" disabled={busy !== null} onClick={() => void run(f)}>
            {busy === f ? `Exporting… ${progress ? size(progress) : ''}` : `Export ${EXPORT_FORMATS[f].label}`}
          </button>
        ))}
        <span className="check-inline">
          <input id="export-notes" type="checkbox" checked={notes} onChange={(e) => setNotes(e.target.checked)} />
          <label htmlFor="export-notes">Include medical notes</label>
        </span>
      </div>
      <div role="status" className="export-status">
        {status?.kind === 'success' ? status.text : ''}
      </div>
      {status?.kind === 'error' && <Alert kind="error">{status.text}</Alert>}
    </section>
  );
}
