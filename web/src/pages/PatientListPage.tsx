import { useEffect, useRef, useState } from 'react';
import { Link, useLocation, useSearchParams } from 'react-router';
import { messageOf } from '../api';
import {
  DEFAULT_PATIENT_SORT,
  isPatientSort,
  listPatients,
  PATIENT_SORTS,
  patientSortSupported,
  type PatientSort,
} from '../api/patients';
import type { Patient, PatientPage } from '../api/types';
import { Alert } from '../components/Alert';
import { Loading } from '../components/Loading';
import { Pagination } from '../components/Pagination';
import { useClinicCountry } from '../lib/clinic';
import { can } from '../lib/roles';
import { useUser } from '../auth/AuthContext';
import { ExportButtons } from '../portability/ExportButtons';
import { focusMainHeading } from '../lib/focus';
import { ageOn, formatDate, formatDateTime, formatRelative } from '../lib/format';
import { useDebounced, useDocumentTitle } from '../lib/hooks';
import { formatPhone, phoneHref } from '../lib/phone';

const LIMIT = 20;
const SEARCH_DELAY_MS = 300;

export const SORT_LABELS: Record<PatientSort, string> = {
  '-createdAt': 'Newest first',
  name: 'Name, A to Z',
  '-name': 'Name, Z to A',
  dateOfBirth: 'Date of birth, oldest first',
  '-updatedAt': 'Recently updated',
};

/** The sortable columns of the table: the order a click on the header applies, given the current one. */
const COLUMN_SORTS = {
  name: (current: PatientSort): PatientSort => (current === 'name' ? '-name' : 'name'),
  dateOfBirth: (): PatientSort => 'dateOfBirth',
  createdAt: (): PatientSort => '-createdAt',
} as const;
type SortColumn = keyof typeof COLUMN_SORTS;

function columnOf(sort: PatientSort): SortColumn | null {
  if (sort === 'name' || sort === '-name') return 'name';
  if (sort === 'dateOfBirth') return 'dateOfBirth';
  if (sort === '-createdAt') return 'createdAt';
  return null;
}

function Dash() {
  return <span className="muted">—</span>;
}

/** A visible marker (not colour alone) for a patient with a recent flagged message. */
function EmergencyMarker({ at }: { at: string }) {
  return (
    <span className="badge badge-danger urgent-marker" title={`Last emergency: ${formatDateTime(at)}`}>
      <span aria-hidden="true">! </span>Emergency · {formatRelative(at)}
    </span>
  );
}

function SortHeader({
  column,
  label,
  sort,
  enabled,
  onSort,
}: {
  column: SortColumn;
  label: string;
  sort: PatientSort;
  enabled: boolean;
  onSort: (s: PatientSort) => void;
}) {
  const active = columnOf(sort) === column;
  const direction = active ? (sort.startsWith('-') ? 'descending' : 'ascending') : undefined;
  if (!enabled) return <th scope="col">{label}</th>;
  return (
    <th scope="col" aria-sort={direction}>
      <button type="button" className="sort-button" onClick={() => onSort(COLUMN_SORTS[column](sort))}>
        {label}
        <span className={`sort-icon${active ? ' active' : ''}`} aria-hidden="true">
          {direction === 'ascending' ? '▲' : direction === 'descending' ? '▼' : '↕'}
        </span>
      </button>
    </th>
  );
}

function PatientCard({ p, country }: { p: Patient; country: ReturnType<typeof useClinicCountry> }) {
  const age = p.dateOfBirth ? ageOn(p.dateOfBirth) : null;
  return (
    <li className="patient-card">
      <h2 className="patient-card-name">
        <Link to={`/patients/${p.id}`}>{p.name}</Link>
      </h2>
      {p.lastEmergencyAt && <EmergencyMarker at={p.lastEmergencyAt} />}
      <dl className="patient-card-details">
        <div>
          <dt>Born</dt>
          <dd>
            {p.dateOfBirth ? (
              <>
                {formatDate(p.dateOfBirth)}
                {age !== null && <span className="muted"> ({age})</span>}
              </>
            ) : (
              <Dash />
            )}
          </dd>
        </div>
        <div>
          <dt>Phone</dt>
          <dd>{p.phone ? <a href={phoneHref(p.phone)}>{formatPhone(p.phone, country)}</a> : <Dash />}</dd>
        </div>
        <div>
          <dt>Email</dt>
          <dd>{p.email || <Dash />}</dd>
        </div>
        <div>
          <dt>Added</dt>
          <dd>{formatDateTime(p.createdAt)}</dd>
        </div>
      </dl>
    </li>
  );
}

/** The clinic's patients; the page, search and order live in the URL so Back works. */
export function PatientListPage() {
  useDocumentTitle('Patients');
  const country = useClinicCountry();
  const user = useUser();
  const portability = can(user, 'portability');
  const [params, setParams] = useSearchParams();
  const location = useLocation();
  const page = Math.max(1, Number.parseInt(params.get('page') ?? '1', 10) || 1);
  const q = params.get('q') ?? '';
  const sortParam = params.get('sort');
  const chosenSort: PatientSort | null = isPatientSort(sortParam) && sortParam !== DEFAULT_PATIENT_SORT ? sortParam : null;
  const [search, setSearch] = useState(q);
  const debounced = useDebounced(search.trim(), SEARCH_DELAY_MS);
  const [data, setData] = useState<PatientPage | null>(null);
  const [sortApplied, setSortApplied] = useState<PatientSort | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const flash = (location.state as { flash?: string } | null)?.flash;
  const canSort = patientSortSupported() !== false;

  // The debounced search box drives the URL (and goes back to page 1, keeping the order) ...
  const written = useRef(q);
  useEffect(() => {
    if (debounced === written.current) return;
    written.current = debounced;
    setParams(
      (prev) => {
        const next = new URLSearchParams();
        if (debounced) next.set('q', debounced);
        const s = prev.get('sort');
        if (s) next.set('sort', s);
        return next;
      },
      { replace: true },
    );
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
    listPatients({ page, limit: LIMIT, q, sort: chosenSort }, controller.signal)
      .then((res) => {
        setData(res.page);
        setSortApplied(res.sortApplied);
        setLoading(false);
      })
      .catch((e: unknown) => {
        if (controller.signal.aborted) return;
        setError(messageOf(e));
        setLoading(false);
      });
    return () => controller.abort();
  }, [page, q, chosenSort]);

  const goTo = (p: number) => {
    const next = new URLSearchParams(params);
    next.set('page', String(p));
    setParams(next);
    focusMainHeading();
  };

  const sortBy = (s: PatientSort) => {
    const next = new URLSearchParams();
    if (q) next.set('q', q);
    if (s !== DEFAULT_PATIENT_SORT) next.set('sort', s);
    setParams(next);
  };

  const sort: PatientSort = canSort && chosenSort ? chosenSort : DEFAULT_PATIENT_SORT;
  const refused = chosenSort !== null && !loading && data !== null && sortApplied === null && !canSort;
  const total = data?.total ?? 0;
  const from = total === 0 ? 0 : (page - 1) * LIMIT + 1;
  const to = Math.min(total, page * LIMIT);
  const items = data?.items ?? [];

  return (
    <div className="page">
      <div className="page-header">
        <h1>Patients</h1>
        <div className="page-actions">
          {portability && (
            <Link to="/patients/import" className="btn btn-secondary">
              Import patients
            </Link>
          )}
          <Link to="/patients/new" className="btn btn-primary">
            Add patient
          </Link>
        </div>
      </div>
      {flash && <Alert kind="success">{flash}</Alert>}

      <div className="list-tools">
        <form
          className="search-bar"
          role="search"
          aria-label="Patients"
          onSubmit={(e) => {
            e.preventDefault();
            const value = search.trim();
            written.current = value;
            const next = new URLSearchParams();
            if (value) next.set('q', value);
            if (chosenSort) next.set('sort', chosenSort);
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
        {canSort && (
          <div className="sort-select">
            <label htmlFor="patient-sort">Sort by</label>
            <select id="patient-sort" value={sort} onChange={(e) => sortBy(e.target.value as PatientSort)}>
              {PATIENT_SORTS.map((s) => (
                <option key={s} value={s}>
                  {SORT_LABELS[s]}
                </option>
              ))}
            </select>
          </div>
        )}
      </div>

      {refused && <Alert kind="info">This server cannot sort the list yet, so patients are shown newest first.</Alert>}
      {error && <Alert kind="error">{error}</Alert>}
      <p className="result-count" role="status">
        {loading
          ? 'Loading patients…'
          : total === 0
            ? q
              ? `No patients match “${q}”.`
              : 'No patients yet.'
            : `Showing ${from}–${to} of ${total} patient${total === 1 ? '' : 's'}${q ? ` matching “${q}”` : ''}, ${SORT_LABELS[sort].toLowerCase()}.`}
      </p>

      {loading && !data && <Loading label="Loading patients…" />}
      {items.length > 0 && (
        <div className="patient-results" aria-busy={loading}>
          <div className="table-wrap">
            <table className="table patient-table">
              <caption className="visually-hidden">Patients, {SORT_LABELS[sort].toLowerCase()}</caption>
              <thead>
                <tr>
                  <SortHeader column="name" label="Name" sort={sort} enabled={canSort} onSort={sortBy} />
                  <SortHeader column="dateOfBirth" label="Date of birth" sort={sort} enabled={canSort} onSort={sortBy} />
                  <th scope="col">Phone</th>
                  <th scope="col">Email</th>
                  <SortHeader column="createdAt" label="Added" sort={sort} enabled={canSort} onSort={sortBy} />
                </tr>
              </thead>
              <tbody>
                {items.map((p) => (
                  <tr key={p.id}>
                    <th scope="row">
                      <Link to={`/patients/${p.id}`}>{p.name}</Link>
                      {p.lastEmergencyAt && (
                        <>
                          {' '}
                          <EmergencyMarker at={p.lastEmergencyAt} />
                        </>
                      )}
                    </th>
                    <td>{formatDate(p.dateOfBirth) || <Dash />}</td>
                    <td className="nowrap">{p.phone ? formatPhone(p.phone, country) : <Dash />}</td>
                    <td>{p.email || <Dash />}</td>
                    <td>{formatDateTime(p.createdAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <ul className="patient-cards" aria-label={`Patients, ${SORT_LABELS[sort].toLowerCase()}`}>
            {items.map((p) => (
              <PatientCard key={p.id} p={p} country={country} />
            ))}
          </ul>
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
      {portability && data && total > 0 && <ExportButtons />}
    </div>
  );
}
