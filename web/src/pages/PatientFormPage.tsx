import { useEffect, useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { isApiError, messageOf } from '../api';
import { createPatient, getPatient, updatePatient } from '../api/patients';
import type { Patient } from '../api/types';
import { Alert } from '../components/Alert';
import { Field } from '../components/Field';
import { Loading } from '../components/Loading';
import { focusFirstError } from '../lib/focus';
import { useDocumentTitle } from '../lib/hooks';
import {
  charCount,
  EMPTY_PATIENT_FORM,
  mapServerErrors,
  NOTES_MAX,
  todayIso,
  toPatientInput,
  validatePatient,
  type FieldErrors,
  type PatientField,
  type PatientFormValues,
} from '../lib/validation';
import { NotFoundPage } from './NotFoundPage';

const FIELDS: readonly PatientField[] = ['name', 'email', 'phone', 'dateOfBirth', 'medicalNotes'];

function toForm(p: Patient): PatientFormValues {
  return {
    name: p.name,
    email: p.email ?? '',
    phone: p.phone ?? '',
    dateOfBirth: p.dateOfBirth ?? '',
    medicalNotes: p.medicalNotes ?? '',
  };
}

/** Create (`/patients/new`) or edit (`/patients/:id/edit`) a patient. */
export function PatientFormPage({ mode }: { mode: 'create' | 'edit' }) {
  const { id } = useParams();
  const navigate = useNavigate();
  const [values, setValues] = useState<PatientFormValues>(EMPTY_PATIENT_FORM);
  const [errors, setErrors] = useState<FieldErrors<PatientField>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [submitted, setSubmitted] = useState(false);
  const [busy, setBusy] = useState(false);
  const [loadState, setLoadState] = useState<'loading' | 'ready' | 'not-found' | 'error'>(
    mode === 'edit' ? 'loading' : 'ready',
  );
  const [original, setOriginal] = useState<Patient | null>(null);
  useDocumentTitle(mode === 'create' ? 'Add patient' : original ? `Edit ${original.name}` : 'Edit patient');

  useEffect(() => {
    if (mode !== 'edit' || !id) return;
    const controller = new AbortController();
    getPatient(id, controller.signal)
      .then((p) => {
        setOriginal(p);
        setValues(toForm(p));
        setLoadState('ready');
      })
      .catch((e: unknown) => {
        if (controller.signal.aborted) return;
        if (isApiError(e) && [400, 404, 422].includes(e.status)) setLoadState('not-found');
        else {
          setFormError(messageOf(e));
          setLoadState('error');
        }
      });
    return () => controller.abort();
  }, [mode, id]);

  const set = (field: PatientField) => (value: string) => {
    const next = { ...values, [field]: value };
    setValues(next);
    // After the first submit, errors follow the typing so the user sees when a field is fixed.
    if (submitted) setErrors(validatePatient(next));
  };

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    setSubmitted(true);
    setFormError(null);
    const found = validatePatient(values);
    setErrors(found);
    if (Object.keys(found).length > 0) {
      focusFirstError(FIELDS, found, 'patient-');
      return;
    }
    setBusy(true);
    try {
      const saved =
        mode === 'create'
          ? await createPatient(toPatientInput(values, 'create'))
          : await updatePatient(id as string, toPatientInput(values, 'edit'));
      navigate(`/patients/${saved.id}`, {
        state: { flash: mode === 'create' ? 'Patient added.' : 'Changes saved.' },
      });
    } catch (err) {
      setBusy(false);
      if (isApiError(err) && err.fieldErrors.length > 0) {
        const mapped = mapServerErrors(err.fieldErrors, FIELDS);
        setErrors(mapped.fields);
        setFormError(
          mapped.other.length > 0 ? mapped.other.join(' ') : 'Please correct the highlighted fields.',
        );
        focusFirstError(FIELDS, mapped.fields, 'patient-');
      } else if (isApiError(err) && err.status === 404) {
        setLoadState('not-found');
      } else {
        setFormError(messageOf(err));
      }
    }
  };

  if (loadState === 'not-found') return <NotFoundPage what="Patient" />;
  if (loadState === 'loading') return <Loading label="Loading patient…" />;

  const title = mode === 'create' ? 'Add patient' : `Edit patient`;
  const cancelTo = mode === 'create' ? '/patients' : `/patients/${id}`;
  return (
    <div className="page page-narrow">
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to="/patients">Patients</Link>
        {original && (
          <>
            <span aria-hidden="true"> / </span>
            <Link to={`/patients/${original.id}`}>{original.name}</Link>
          </>
        )}
      </nav>
      <h1>{title}</h1>
      {formError && <Alert kind="error">{formError}</Alert>}
      {loadState === 'ready' && (
        <form onSubmit={onSubmit} noValidate className="card form">
          <Field
            id="patient-name"
            label="Full name"
            required
            autoComplete="off"
            value={values.name}
            onChange={set('name')}
            error={errors.name}
          />
          <Field
            id="patient-email"
            label="Email"
            type="email"
            autoComplete="off"
            value={values.email}
            onChange={set('email')}
            error={errors.email}
          />
          <Field
            id="patient-phone"
            label="Phone"
            type="tel"
            autoComplete="off"
            hint="International format, starting with + and the country code, e.g. +44 20 7946 0958."
            value={values.phone}
            onChange={set('phone')}
            error={errors.phone}
          />
          <Field
            id="patient-dateOfBirth"
            label="Date of birth"
            type="date"
            min="1900-01-01"
            max={todayIso()}
            hint="Not before 1 January 1900 and not in the future."
            value={values.dateOfBirth}
            onChange={set('dateOfBirth')}
            error={errors.dateOfBirth}
          />
          <Field
            id="patient-medicalNotes"
            label="Medical notes"
            multiline
            rows={6}
            hint="Allergies, medication, conditions. The assistant sees these notes."
            counter={{ max: NOTES_MAX, count: charCount(values.medicalNotes) }}
            value={values.medicalNotes}
            onChange={set('medicalNotes')}
            error={errors.medicalNotes}
          />
          <div className="form-actions">
            <button type="submit" className="btn btn-primary" disabled={busy}>
              {busy ? 'Saving…' : mode === 'create' ? 'Add patient' : 'Save changes'}
            </button>
            <Link to={cancelTo} className="btn btn-secondary">
              Cancel
            </Link>
          </div>
        </form>
      )}
    </div>
  );
}
