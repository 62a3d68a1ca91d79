import { api } from './index';
import { ApiError, errorFromResponse } from './errors';
import type { ImportReport } from './types';
import { IMPORT_CONTENT_TYPES, readImportReport, type ImportFormat } from '../lib/importReport';

export type ExportFormat = 'fhir' | 'csv';

export const EXPORT_FORMATS: Record<ExportFormat, { label: string; ext: string; mime: string; description: string }> = {
  fhir: { label: 'FHIR (NDJSON)', ext: 'ndjson', mime: 'application/fhir+ndjson', description: 'FHIR R4 Patient resources, one a line' },
  csv: { label: 'CSV', ext: 'csv', mime: 'text/csv', description: 'Spreadsheet (CSV)' },
};

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** `patients-2025-04-12.ndjson`. */
export function exportFileName(format: ExportFormat, now: Date = new Date()): string {
  const day = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
  return `patients-${day}.${EXPORT_FORMATS[format].ext}`;
}

export function exportPath(format: ExportFormat, includeNotes: boolean): string {
  const params = new URLSearchParams({ format });
  if (includeNotes) params.set('includeNotes', 'true');
  return `/export/patients?${params}`;
}

/** Where an export goes: a file the user picked (written as it streams), or a download made at the end. */
export type SaveTarget = { kind: 'file'; writable: WritableStream<Uint8Array> } | { kind: 'download'; name: string };

interface SaveFilePickerWindow {
  showSaveFilePicker?: (options: {
    suggestedName: string;
    types: { description: string; accept: Record<string, string[]> }[];
  }) => Promise<{ createWritable: () => Promise<WritableStream<Uint8Array>> }>;
}

/**
 * Chooses where to save; must run first in the click handler (the picker needs the user's gesture). Where the
 * browser can write a file as it arrives (the File System Access API: Chromium on desktop), the export streams to
 * disk in constant memory; elsewhere it is collected (the browser may keep a large blob on disk) and downloaded.
 * Null: the user cancelled the picker.
 */
export async function pickSaveTarget(format: ExportFormat): Promise<SaveTarget | null> {
  const name = exportFileName(format);
  const picker = (window as unknown as SaveFilePickerWindow).showSaveFilePicker;
  if (typeof picker !== 'function') return { kind: 'download', name };
  const meta = EXPORT_FORMATS[format];
  try {
    const handle = await picker.call(window, {
      suggestedName: name,
      types: [{ description: meta.description, accept: { [meta.mime]: [`.${meta.ext}`] } }],
    });
    return { kind: 'file', writable: await handle.createWritable() };
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') return null;
    // Not allowed here (a sandboxed frame, a policy): fall back to a download.
    return { kind: 'download', name };
  }
}

/** Counts the bytes that pass (for "Saved 1.2 MB"). */
function counter(onBytes: (n: number) => void): TransformStream<Uint8Array, Uint8Array> {
  let total = 0;
  return new TransformStream({
    transform(chunk, controller) {
      total += chunk.byteLength;
      onBytes(total);
      controller.enqueue(chunk);
    },
  });
}

/** Fetches the export and writes it to `target`; resolves to the number of bytes saved. */
export async function saveExport(
  format: ExportFormat,
  includeNotes: boolean,
  target: SaveTarget,
  onProgress: (bytes: number) => void = () => undefined,
  signal?: AbortSignal,
): Promise<number> {
  const init: RequestInit = { method: 'GET', headers: { Accept: `${EXPORT_FORMATS[format].mime}, */*;q=0.1` } };
  if (signal) init.signal = signal;
  let res: Response;
  try {
    res = await api.fetch(exportPath(format, includeNotes), init);
  } catch (e) {
    if (target.kind === 'file') await target.writable.abort().catch(() => undefined);
    throw e;
  }
  if (!res.ok || !res.body) {
    if (target.kind === 'file') await target.writable.abort().catch(() => undefined);
    throw res.ok ? new ApiError(res.status, null, 'The server sent an empty export.') : await errorFromResponse(res);
  }
  let bytes = 0;
  const counted = res.body.pipeThrough(
    counter((n) => {
      bytes = n;
      onProgress(n);
    }),
  );
  if (target.kind === 'file') {
    await counted.pipeTo(target.writable, signal ? { signal } : {});
    return bytes;
  }
  const blob = await new Response(counted).blob();
  const url = URL.createObjectURL(new Blob([blob], { type: EXPORT_FORMATS[format].mime }));
  const a = document.createElement('a');
  a.href = url;
  a.download = target.name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return bytes;
}

export type ImportOutcome =
  | { kind: 'report'; report: ImportReport }
  /** 422: nothing was imported (all or nothing); the report says why. */
  | { kind: 'refused'; report: ImportReport };

/**
 * `POST /import/patients[?dryRun=true]` with the file as the body (sent from disk, not read into a string).
 * Throws {@link ApiError} for any other refusal (too large, wrong type, not allowed).
 */
export async function importPatients(file: Blob, format: ImportFormat, dryRun: boolean): Promise<ImportOutcome> {
  const path = dryRun ? '/import/patients?dryRun=true' : '/import/patients';
  const res = await api.fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': IMPORT_CONTENT_TYPES[format], Accept: 'application/json' },
    body: file,
  });
  if (res.ok) {
    const report = readImportReport(await res.json());
    if (!report) throw new ApiError(res.status, null, 'The server sent a report this page cannot read.');
    return { kind: 'report', report };
  }
  if (res.status === 422) {
    const copy = res.clone();
    const report = readImportReport(await res.json().catch(() => null));
    if (report) return { kind: 'refused', report };
    throw await errorFromResponse(copy);
  }
  throw await errorFromResponse(res);
}
