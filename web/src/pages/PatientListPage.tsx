import { useEffect, useRef, useState } from 'react';
import { Link, useLocation, useSearchParams } from 'react-router';
import { messageOf } from '../api';
import { listPatients } from '../api/patients';
import type { PatientPage } from '../api/types';
import { Alert } from '../components/Alert';
import { Loading } from '../components/Loading';
import { Pagination } from '../components/Pagination';
import { formatDate, formatDateTime } from '../lib/format';
import { useDebounced, useDocumentTitle } from '../lib/hooks';

const LIMIT = 20;
const SEARCH_DELAY_MS = 300;

/** All of the caller's patients, newest first; the page and search live in the URL so Back works. */
export function PatientListPage() {
  useDocumentTitle('Patients');
  const [params, setParams] = useSearchParams();
  const location = useLocation();
  const page = Math.max(1, Number.parseInt(params.get('page') ?? '1', 10) || 1);
  const q = params.get('q') ?? '';
  const [search, setSearch] = useState(q);
  const debounced = useDebounced(search.trim(), SEARCH_DELAY_MS);
  const [data, setData] = useState<PatientPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const flash = (location.state as { flash?: string } | null)?.flash;

  // The debounced search box drives the URL (and goes back to page 1) ...
  const written = useRef(q);
  useEffect(() => {
    if (debounced === written.current) return;
    written.current = debounced;
    const next = new URLSearchParams();
    if (debounced) next.set('q', debounced);
    setParams(next, { replace: true });
  }, [debounced, setParams]);
  // ... and a URL changed by Back/Forward or a link drives the search box.
  useEffect(() => {
    if (q !== written.current) {
      written.current = q;
      setSearch(q);
    }
  }, [q]);

  useEffect(() => {
    const controller = new AbortController();
    setLoading(true);
    setError(null);
    listPatients({ page, limit: LIMIT, q }, controller.signal)
      .then((res) => {
        setData(res);
        setLoading(false);
      })
      .catch((e: unknown) => {
        if (controller.signal.aborted) return;
        setError(messageOf(e));
        setLoading(false);
      });
    return () => controller.abort();
  }, [page, q]);

  const goTo = (p: number) => {
    const next = new URLSearchParams(params);
    next.set('page', String(p));
    setParams(next);
  };

  const total = data?.total ?? 0;
  const from = total === 0 ? 0 : (page - 1) * LIMIT + 1;
  const to = Math.min(total, page * LIMIT);

  return (
    <div className="page">
      <div className="page-header">
        <h1>Patients</h1>
        <Link to="/patients/new" className="btn btn-primary">
          Add patient
        </Link>
      </div>
      {flash && <Alert kind="success">{flash}</Alert>}

      <div className="search-bar">
        <form
          role="search"
          aria-label="Patients"
          onSubmit={(e) => {
            e.preventDefault();
            const value = search.trim();
            written.current = value;
            const next = new URLSearchParams();
            if (value) next.set('q', value);
            setParams(next, { replace: true });
          }}
        >
          <label htmlFor="patient-search">Search patients</label>
          <input
            id="patient-search"
            type="search"
            value={search}
            placeholder="Name, email or phone"
            autoComplete="off"
            onChange={(e) => setSearch(e.target.value)}
          />
        </form>
      </div>

      {error && <Alert kind="error">{error}</Alert>}
      <p className="result-count" role="status">
        {loading
          ? 'Loading patients…'
          : total === 0
            ? q
              ? `No patients match “${q}”.`
              : 'No patients yet.'
            : `Showing ${from}–${to} of ${total} patient${total === 1 ? '' : 's'}${q ? ` matching “${q}”` : ''}.`}
      </p>

      {loading && !data && <Loading label="Loading patients…" />}
      {data && data.items.length > 0 && (
        <div className="table-wrap" aria-busy={loading}>
          <table className="table">
            <caption className="visually-hidden">Patients, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Date of birth</th>
                <th scope="col">Phone</th>
                <th scope="col">Email</th>
                <th scope="col">Added</th>
              </tr>
            </thead>
            <tbody>
              {data.items.map((p) => (
                <tr key={p.id}>
                  <th scope="row">
                    <Link to={`/patients/${p.id}`}>{p.name}</Link>
                  </th>
                  <td>{formatDate(p.dateOfBirth) || <span className="muted">—</span>}</td>
                  <td>{p.phone || <span className="muted">—</span>}</td>
                  <td>{p.email || <span className="muted">—</span>}</td>
                  <td>{formatDateTime(p.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {data && data.items.length === 0 && !q && !loading && (
        <div className="empty">
          <p>Add your first patient to start a conversation with the assistant.</p>
          <Link to="/patients/new" className="btn btn-primary">
            Add patient
          </Link>
        </div>
      )}
      {data && <Pagination page={page} limit={LIMIT} total={total} onPage={goTo} label="Patient pages" />}
    </div>
  );
}
