import { useEffect, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { isApiError, messageOf } from '../api';
import { listTrash, restorePatient } from '../api/clinic';
import type { Patient, TrashPage as Trash } from '../api/types';
import { Alert } from '../components/Alert';
import { Loading } from '../components/Loading';
import { Pagination } from '../components/Pagination';
import { focusMainHeading } from '../lib/focus';
import { formatDate, formatDateTime } from '../lib/format';
import { useDocumentTitle } from '../lib/hooks';

const LIMIT = 20;

/** When a deleted patient is purged for good: `deletedAt` + the retention the api names (else unknown). */
export function purgeDate(deletedAt: string | null | undefined, retentionDays: number | undefined): string | null {
  if (!deletedAt || !retentionDays) return null;
  const t = Date.parse(deletedAt);
  return Number.isNaN(t) ? null : new Date(t + retentionDays * 86_400_000).toISOString();
}

/** Owners: deleted patients, restorable until the retention period ends. */
export function TrashPage() {
  useDocumentTitle('Trash');
  const [params, setParams] = useSearchParams();
  const page = Math.max(1, Number.parseInt(params.get('page') ?? '1', 10) || 1);
  const [data, setData] = useState<Trash | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [restored, setRestored] = useState<Patient | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    const controller = new AbortController();
    setError(null);
    listTrash(page, LIMIT, controller.signal)
      .then(setData)
      .catch((e: unknown) => {
        if (!controller.signal.aborted) setError(messageOf(e));
      });
    return () => controller.abort();
  }, [page, reload]);

  const restore = async (p: Patient) => {
    setBusy(p.id);
    setError(null);
    setRestored(null);
    try {
      const back = await restorePatient(p.id);
      setRestored(back);
      setData((d) => (d ? { ...d, items: d.items.filter((x) => x.id !== p.id), total: Math.max(0, d.total - 1) } : d));
    } catch (e) {
      // Purged or restored meanwhile (another owner): show the trash as it is now.
      if (isApiError(e) && e.status === 404) setReload((n) => n + 1);
      setError(isApiError(e) && e.status === 404 ? `${p.name} is no longer in the trash.` : messageOf(e));
    } finally {
      setBusy(null);
    }
  };

  const days = data?.retentionDays;
  return (
    <div className="page">
      <div className="page-header">
        <h1>Trash</h1>
      </div>
      <p className="muted">
        Deleted patients and their conversations stay here
        {days ? ` for ${days} days` : ' for a while (30 days unless the server is set otherwise)'}, then they are
        removed for good. Only owners see the trash.
      </p>
      {restored && (
        <Alert kind="success">
          {restored.name} was restored. <Link to={`/patients/${restored.id}`}>Open {restored.name}</Link>
        </Alert>
      )}
      {error && <Alert kind="error">{error}</Alert>}
      {!data && !error && <Loading label="Loading the trash…" />}
      {data && data.items.length === 0 && <p className="empty">The trash is empty.</p>}
      {data && data.items.length > 0 && (
        <div className="table-wrap">
          <table className="table stack-table">
            <caption className="visually-hidden">Deleted patients</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Date of birth</th>
                <th scope="col">Deleted</th>
                <th scope="col">Removed for good</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {data.items.map((p) => {
                const purge = purgeDate(p.deletedAt, days);
                return (
                  <tr key={p.id}>
                    <th scope="row">{p.name}</th>
                    <td data-label="Date of birth">{formatDate(p.dateOfBirth) || <span className="muted">—</span>}</td>
                    <td data-label="Deleted">{formatDateTime(p.deletedAt)}</td>
                    <td data-label="Removed for good">{purge ? formatDate(purge.slice(0, 10)) : <span className="muted">—</span>}</td>
                    <td className="row-actions">
                      <button type="button" className="btn btn-secondary btn-small" disabled={busy !== null} onClick={() => void restore(p)}>
                        {busy === p.id ? 'Restoring…' : 'Restore'}
                        <span className="visually-hidden"> {p.name}</span>
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {data && (
        <Pagination
          page={page}
          limit={LIMIT}
          total={data.total}
          label="Trash pages"
          onPage={(p) => {
            setParams({ page: String(p) });
            focusMainHeading();
          }}
        />
      )}
    </div>
  );
}
