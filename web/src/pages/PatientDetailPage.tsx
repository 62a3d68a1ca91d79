import { useEffect, useState, type MouseEvent } from 'react';
import { Link, useLocation, useNavigate, useParams } from 'react-router';
import { isApiError, messageOf } from '../api';
import { deletePatient, getPatient } from '../api/patients';
import type { Patient } from '../api/types';
import { ChatPanel } from '../chat/ChatPanel';
import { Alert } from '../components/Alert';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Loading } from '../components/Loading';
import { useClinicCountry } from '../lib/clinic';
import { can } from '../lib/roles';
import { useUser } from '../auth/AuthContext';
import { focusStatic } from '../lib/focus';
import { ageOn, formatDate, formatDateTime } from '../lib/format';
import { formatPhone, phoneHref } from '../lib/phone';
import { useDocumentTitle } from '../lib/hooks';
import { NotFoundPage } from './NotFoundPage';

type Load = { state: 'loading' } | { state: 'ready'; patient: Patient } | { state: 'not-found' } | { state: 'error'; message: string };

/** One patient: details on the left, the assistant conversation on the right. */
export function PatientDetailPage() {
  const { id = '' } = useParams();
  const navigate = useNavigate();
  const location = useLocation();
  const flash = (location.state as { flash?: string } | null)?.flash;
  const [load, setLoad] = useState<Load>({ state: 'loading' });
  const [confirming, setConfirming] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [deleteError, setDeleteError] = useState<string | null>(null);
  const country = useClinicCountry();
  const user = useUser();
  const chat = can(user, 'chat');
  const notes = can(user, 'notes');
  const owner = can(user, 'clinic-admin');
  // With clinics, a delete moves the patient to the trash (owners restore it); before, it was for good.
  const trash = !!user.clinic;
  useDocumentTitle(load.state === 'ready' ? load.patient.name : load.state === 'not-found' ? 'Patient not found' : 'Patient');

  useEffect(() => {
    const controller = new AbortController();
    setLoad({ state: 'loading' });
    getPatient(id, controller.signal)
      .then((patient) => setLoad({ state: 'ready', patient }))
      .catch((e: unknown) => {
        if (controller.signal.aborted) return;
        // Another user's patient is indistinguishable from a missing one; a malformed id is missing too.
        if (isApiError(e) && [400, 404, 422].includes(e.status)) setLoad({ state: 'not-found' });
        else setLoad({ state: 'error', message: messageOf(e) });
      });
    return () => controller.abort();
  }, [id]);

  if (load.state === 'loading') return <Loading label="Loading patient…" />;
  if (load.state === 'not-found') return <NotFoundPage what="Patient" />;
  if (load.state === 'error') {
    return (
      <div className="page">
        <h1>Patient</h1>
        <Alert kind="error">{load.message}</Alert>
      </div>
    );
  }
  const p = load.patient;
  const age = p.dateOfBirth ? ageOn(p.dateOfBirth) : null;

  const jumpToChat = (e: MouseEvent<HTMLAnchorElement>) => {
    e.preventDefault();
    const title = document.getElementById('chat-title');
    title?.closest('section')?.scrollIntoView({ block: 'start' });
    focusStatic(title);
  };

  const onDelete = async () => {
    setDeleting(true);
    setDeleteError(null);
    try {
      await deletePatient(p.id);
      setConfirming(false);
      navigate('/patients', {
        replace: true,
        state: { flash: trash ? `${p.name} was moved to the trash.` : `${p.name} was deleted.` },
      });
    } catch (e) {
      setDeleting(false);
      setConfirming(false);
      if (isApiError(e) && e.status === 404) navigate('/patients', { replace: true });
      else setDeleteError(messageOf(e));
    }
  };

  return (
    <div className="page page-wide">
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to="/patients">Patients</Link>
        <span aria-hidden="true"> / </span>
        <span aria-current="page">{p.name}</span>
      </nav>
      <div className="page-header">
        <h1>{p.name}</h1>
        {/* In one column the details come first: a way straight to the conversation (and its banner). */}
        {chat && (
          <a href="#chat-title" className="btn btn-secondary btn-small jump-to-chat" onClick={jumpToChat}>
            Go to the assistant<span aria-hidden="true"> ↓</span>
          </a>
        )}
      </div>
      {flash && <Alert kind="success">{flash}</Alert>}
      {deleteError && <Alert kind="error">{deleteError}</Alert>}
      <div className={chat ? 'detail-grid' : 'detail-single'}>
        <section className="card patient-info" aria-labelledby="info-title">
          <h2 id="info-title">Patient details</h2>
          <dl className="details">
            <div>
              <dt>Date of birth</dt>
              <dd>
                {p.dateOfBirth ? (
                  <>
                    {formatDate(p.dateOfBirth)}
                    {age !== null && <span className="muted"> ({age} years)</span>}
                  </>
                ) : (
                  <span className="muted">Not recorded</span>
                )}
              </dd>
            </div>
            <div>
              <dt>Phone</dt>
              <dd>
                {p.phone ? (
                  <a href={phoneHref(p.phone)}>{formatPhone(p.phone, country)}</a>
                ) : (
                  <span className="muted">Not recorded</span>
                )}
              </dd>
            </div>
            <div>
              <dt>Email</dt>
              <dd>{p.email ? <a href={`mailto:${p.email}`}>{p.email}</a> : <span className="muted">Not recorded</span>}</dd>
            </div>
            {notes && (
              <div>
                <dt>Medical notes</dt>
                <dd className="notes">{p.medicalNotes || <span className="muted">None</span>}</dd>
              </div>
            )}
            {p.lastEmergencyAt && (
              <div>
                <dt>Last emergency</dt>
                <dd>
                  <span className="badge badge-danger">
                    <span aria-hidden="true">! </span>Emergency
                  </span>{' '}
                  {formatDateTime(p.lastEmergencyAt)}
                </dd>
              </div>
            )}
            <div>
              <dt>Added</dt>
              <dd>{formatDateTime(p.createdAt)}</dd>
            </div>
            <div>
              <dt>Last updated</dt>
              <dd>{formatDateTime(p.updatedAt)}</dd>
            </div>
          </dl>
          <div className="form-actions">
            <Link to={`/patients/${p.id}/edit`} className="btn btn-secondary">
              Edit<span className="visually-hidden"> {p.name}</span>
            </Link>
            <button type="button" className="btn btn-danger-outline" onClick={() => setConfirming(true)}>
              Delete<span className="visually-hidden"> {p.name}</span>
            </button>
            {owner && (
              <Link to={`/patients/${p.id}/access-log`} className="btn btn-link">
                Access log<span className="visually-hidden"> of {p.name}</span>
              </Link>
            )}
          </div>
        </section>
        {chat && <ChatPanel key={p.id} patientId={p.id} />}
      </div>
      <ConfirmDialog
        open={confirming}
        title={`Delete ${p.name}?`}
        confirmLabel={trash ? 'Move to the trash' : 'Delete patient'}
        busy={deleting}
        onConfirm={() => void onDelete()}
        onCancel={() => setConfirming(false)}
      >
        {trash ? (
          <p>
            The patient and the conversation with the assistant move to the trash. The clinic’s owners can restore them
            from there for a limited time (30 days unless the server is set otherwise); then they are removed for good.
          </p>
        ) : (
          <p>The patient and the whole conversation with the assistant will be deleted. This cannot be undone.</p>
        )}
      </ConfirmDialog>
    </div>
  );
}
