import { useEffect, useState } from 'react';
import { Link, useParams } from 'react-router';
import { isApiError, messageOf } from '../api';
import { getAccessLog } from '../api/clinic';
import { getPatient } from '../api/patients';
import type { AccessEvent, AccessEventPage } from '../api/types';
import { Alert } from '../components/Alert';
import { Loading } from '../components/Loading';
import { formatDateTime } from '../lib/format';
import { useDocumentTitle } from '../lib/hooks';
import { NotFoundPage } from '../pages/NotFoundPage';
import { actionText, hasOlder } from './accessLog';

const LIMIT = 25;

/**
 * Owners: who opened, changed, exported or was refused one patient's record, newest first (reading this page is
 * itself logged). Older events load below ("Show older"), by the api's keyset cursor when it gives one.
 */
export function AccessLogPage() {
  const { id = '' } = useParams();
  const [name, setName] = useState<string | null>(null);
  const [events, setEvents] = useState<AccessEvent[]>([]);
  const [last, setLast] = useState<AccessEventPage | null>(null);
  const [state, setState] = useState<'loading' | 'ready' | 'more' | 'not-found'>('loading');
  const [error, setError] = useState<string | null>(null);
  useDocumentTitle(name ? `Access log: ${name}` : 'Access log');

  useEffect(() => {
    const controller = new AbortController();
    setState('loading');
    Promise.all([
      getPatient(id, controller.signal).catch((e: unknown) => {
        // A patient in the trash has a log too; its name is then unknown here.
        if (isApiError(e) && e.status === 404) return null;
        throw e;
      }),
      getAccessLog(id, { page: 1, limit: LIMIT }, controller.signal),
    ])
      .then(([patient, page]) => {
        setName(patient?.name ?? null);
        setEvents(page.items);
        setLast(page);
        setState('ready');
      })
      .catch((e: unknown) => {
        if (controller.signal.aborted) return;
        if (isApiError(e) && [400, 404, 422].includes(e.status)) setState('not-found');
        else {
          setError(messageOf(e));
          setState('ready');
        }
      });
    return () => controller.abort();
  }, [id]);

  const more = async () => {
    if (!last) return;
    setState('more');
    setError(null);
    try {
      const page = await getAccessLog(id, { page: last.page + 1, limit: LIMIT, cursor: last.nextCursor ?? null });
      setEvents((list) => [...list, ...page.items]);
      setLast(page);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setState('ready');
    }
  };

  if (state === 'not-found') return <NotFoundPage what="Patient" />;
  return (
    <div className="page">
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to="/patients">Patients</Link>
        {name && (
          <>
            <span aria-hidden="true"> / </span>
            <Link to={`/patients/${id}`}>{name}</Link>
          </>
        )}
      </nav>
      <h1>Access log{name ? `: ${name}` : ''}</h1>
      <p className="muted">
        Everyone who opened, changed, exported or was refused this record, newest first. Reading this log is recorded
        too.
      </p>
      {error && <Alert kind="error">{error}</Alert>}
      {state === 'loading' && <Loading label="Loading the access log…" />}
      {state !== 'loading' && events.length === 0 && !error && <p className="empty">No access recorded yet.</p>}
      {events.length > 0 && (
        <div className="table-wrap">
          <table className="table stack-table">
            <caption className="visually-hidden">Access to this patient’s record, newest first</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">What</th>
                <th scope="col">Request id</th>
              </tr>
            </thead>
            <tbody>
              {events.map((e, i) => (
                <tr key={`${e.at}-${e.requestId ?? ''}-${i}`} className={e.action === 'access.denied' ? 'row-denied' : undefined}>
                  <th scope="row">
                    <time dateTime={e.at}>{formatDateTime(e.at)}</time>
                  </th>
                  <td data-label="Who">{e.userName ?? (e.userId ? 'A former member' : 'The system')}</td>
                  <td data-label="What">
                    {e.action === 'access.denied' && (
                      <span className="badge badge-warning">
                        <span aria-hidden="true">! </span>Refused
                      </span>
                    )}{' '}
                    {actionText(e.action)}
                  </td>
                  <td data-label="Request id">
                    <code className="request-id">{e.requestId ?? '—'}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {last && hasOlder(last) && (
        <div className="load-more">
          <button type="button" className="btn btn-secondary" disabled={state === 'more'} onClick={() => void more()}>
            {state === 'more' ? 'Loading older events…' : 'Show older events'}
          </button>
        </div>
      )}
      <p className="result-count" role="status">
        {state === 'loading' ? '' : `${events.length} event${events.length === 1 ? '' : 's'} shown.`}
      </p>
    </div>
  );
}
