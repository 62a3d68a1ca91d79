import { useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { isApiError, messageOf } from '../api';
import { createPatient, duplicateIds, getPatient, updatePatient } from '../api/patients';
import type { Patient, PatientInput } from '../api/types';
import { Alert } from '../components/Alert';
import { DateField } from '../components/DateField';
import { Field } from '../components/Field';
import { Loading } from '../components/Loading';
import { useUnsavedChanges } from '../components/UnsavedChanges';
import { useClinicCountry } from '../lib/clinic';
import { can } from '../lib/roles';
import { useUser } from '../auth/AuthContext';
import { focusFirstError, focusStatic } from '../lib/focus';
import { dateFieldOrder, formatDate, type DatePart } from '../lib/format';
import { useDocumentTitle } from '../lib/hooks';
import { formatPhone, phoneHint, phonePreview } from '../lib/phone';
import {
  charCount,
  datePartsFromIso,
  EMPTY_DATE_PARTS,
  EMPTY_PATIENT_FORM,
  EARLIEST_BIRTH_DATE,
  mapServerErrors,
  NOTES_MAX,
  readDateParts,
  toPatientInput,
  validatePatient,
  type DateParts,
  type FieldErrors,
  type PatientField,
  type PatientFormValues,
} from '../lib/validation';
import { NotFoundPage } from './NotFoundPage';

const FIELDS: readonly PatientField[] = ['name', 'email', 'phone', 'dateOfBirth', 'medicalNotes'];

/** The form as typed: text fields, and the date of birth in its three boxes. */
interface Draft {
  values: Omit<PatientFormValues, 'dateOfBirth'>;
  dob: DateParts;
}

const EMPTY_DRAFT: Draft = { values: { ...EMPTY_PATIENT_FORM }, dob: { ...EMPTY_DATE_PARTS } };

/** The stored patient as the form shows it: the phone number as staff would type it (national when local). */
function toDraft(p: Patient, country: ReturnType<typeof useClinicCountry>): Draft {
  return {
    values: { name: p.name, email: p.email ?? '', phone: formatPhone(p.phone, country), medicalNotes: p.medicalNotes ?? '' },
    dob: datePartsFromIso(p.dateOfBirth),
  };
}

/** A create the api held back as a likely duplicate: the request to send again, and the patients it looks like. */
interface Duplicate {
  input: PatientInput;
  /** The existing patients (those this user may open; an id that no longer loads is left out). */
  existing: Patient[];
  /** How many the api named (the list above may be shorter). */
  named: number;
}

/** At most this many existing patients are fetched and shown; the api names every candidate. */
const DUPLICATES_SHOWN = 5;

function sameDraft(a: Draft, b: Draft): boolean {
  const fields = ['name', 'email', 'phone', 'medicalNotes'] as const;
  const parts = ['day', 'month', 'year'] as const;
  return fields.every((f) => a.values[f] === b.values[f]) && parts.every((p) => a.dob[p].trim() === b.dob[p].trim());
}

interface Checked {
  errors: FieldErrors<PatientField>;
  /** The date box the date-of-birth error is about (null: the whole date). */
  dobPart: DatePart | null;
  values: PatientFormValues;
}

function check(draft: Draft, country: ReturnType<typeof useClinicCountry>): Checked {
  const dob = readDateParts(draft.dob);
  const values: PatientFormValues = { ...draft.values, dateOfBirth: dob.ok ? dob.iso : '' };
  const errors = validatePatient(values, new Date(), country);
  if (!dob.ok) errors.dateOfBirth = dob.error;
  return { errors, dobPart: dob.ok ? null : dob.part, values };
}

/** Create (`/patients/new`) or edit (`/patients/:id/edit`) a patient. */
export function PatientFormPage({ mode }: { mode: 'create' | 'edit' }) {
  const { id } = useParams();
  const navigate = useNavigate();
  const country = useClinicCountry();
  // Reception never sees or writes medical notes (the api refuses the field with 403 forbidden_field).
  const notes = can(useUser(), 'notes');
  const [draft, setDraft] = useState<Draft>(EMPTY_DRAFT);
  const [initial, setInitial] = useState<Draft>(EMPTY_DRAFT);
  const [errors, setErrors] = useState<FieldErrors<PatientField>>({});
  const [dobPart, setDobPart] = useState<DatePart | null>(null);
  const [formError, setFormError] = useState<string | null>(null);
  const [submitted, setSubmitted] = useState(false);
  const [busy, setBusy] = useState(false);
  const [loadState, setLoadState] = useState<'loading' | 'ready' | 'not-found' | 'error'>(
    mode === 'edit' ? 'loading' : 'ready',
  );
  const [original, setOriginal] = useState<Patient | null>(null);
  const [duplicate, setDuplicate] = useState<Duplicate | null>(null);
  const duplicateHeading = useRef<HTMLHeadingElement>(null);
  useDocumentTitle(mode === 'create' ? 'Add patient' : original ? `Edit ${original.name}` : 'Edit patient');

  const dirty = loadState === 'ready' && !busy && !sameDraft(draft, initial);
  const { allow, dialog } = useUnsavedChanges(dirty);

  useEffect(() => {
    if (mode !== 'edit' || !id) return;
    const controller = new AbortController();
    getPatient(id, controller.signal)
      .then((p) => {
        setOriginal(p);
        setDraft(toDraft(p, country));
        setInitial(toDraft(p, country));
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
  }, [mode, id, country]);

  useEffect(() => {
    if (duplicate) focusStatic(duplicateHeading.current);
  }, [duplicate]);

  const update = (next: Draft) => {
    setDraft(next);
    // The warning is about what was sent: once the form changes, a new submit checks again.
    setDuplicate(null);
    // After the first submit, errors follow the typing so the user sees when a field is fixed.
    if (submitted) {
      const c = check(next, country);
      setErrors(c.errors);
      setDobPart(c.dobPart);
    }
  };
  const set = (field: Exclude<PatientField, 'dateOfBirth'>) => (value: string) =>
    update({ ...draft, values: { ...draft.values, [field]: value } });

  const focusError = (found: FieldErrors<PatientField>, part: DatePart | null) =>
    focusFirstError(FIELDS, found, 'patient-', (field) =>
      field === 'dateOfBirth' ? `patient-dateOfBirth-${part ?? dateFieldOrder()[0]}` : null,
    );

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    setSubmitted(true);
    setFormError(null);
    const c = check(draft, country);
    setErrors(c.errors);
    setDobPart(c.dobPart);
    if (Object.keys(c.errors).length > 0) {
      focusError(c.errors, c.dobPart);
      return;
    }
    const input = toPatientInput(c.values, mode, country);
    if (!notes) delete input.medicalNotes;
    await save(input, false);
  };

  /** Sends the create or the update; `confirmDuplicate` repeats a create the api held back as a likely duplicate. */
  const save = async (input: PatientInput, confirmDuplicate: boolean) => {
    setBusy(true);
    setFormError(null);
    try {
      const saved =
        mode === 'create' ? await createPatient(input, { confirmDuplicate }) : await updatePatient(id as string, input);
      allow();
      navigate(`/patients/${saved.id}`, {
        state: { flash: mode === 'create' ? 'Patient added.' : 'Changes saved.' },
      });
    } catch (err) {
      const ids = duplicateIds(err);
      if (ids.length > 0) {
        // Name the existing patients, so staff can tell whether it is the same person.
        const found = await Promise.all(ids.slice(0, DUPLICATES_SHOWN).map((d) => getPatient(d).catch(() => null)));
        setBusy(false);
        setDuplicate({ input, existing: found.filter((p): p is Patient => p !== null), named: ids.length });
        return;
      }
      setBusy(false);
      setDuplicate(null);
      if (isApiError(err) && err.fieldErrors.length > 0) {
        const mapped = mapServerErrors(err.fieldErrors, FIELDS);
        setErrors(mapped.fields);
        setDobPart(null);
        setFormError(mapped.other.length > 0 ? mapped.other.join(' ') : 'Please correct the highlighted fields.');
        focusError(mapped.fields, null);
      } else if (isApiError(err) && err.status === 404) {
        setLoadState('not-found');
      } else {
        setFormError(messageOf(err));
      }
    }
  };

  const phoneNote = useMemo(() => {
    const preview = draft.values.phone.trim() ? phonePreview(draft.values.phone, country) : null;
    return preview ? `Will be saved as ${preview}.` : null;
  }, [draft.values.phone, country]);

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
      {formError && (
        <Alert kind="error" focus={Object.keys(errors).length === 0}>
          {formError}
        </Alert>
      )}
      {duplicate && (
        <section className="alert alert-warning duplicate-warning" aria-labelledby="duplicate-title">
          <h2 id="duplicate-title" ref={duplicateHeading}>
            {duplicate.named === 1 ? 'This patient may already be in the clinic' : 'These patients may already be in the clinic'}
          </h2>
          <p>
            {duplicate.named === 1 ? 'A patient' : `${duplicate.named} patients`} with the same email, or the same name and
            date of birth, {duplicate.named === 1 ? 'is' : 'are'} already saved. Nothing was saved yet, and what you typed is
            kept below.
          </p>
          {duplicate.existing.length > 0 && (
            <ul className="duplicate-list">
              {duplicate.existing.map((p) => (
                <li key={p.id}>
                  <Link to={`/patients/${p.id}`}>Open {p.name}</Link>
                  <span className="duplicate-details">
                    {[p.dateOfBirth ? `born ${formatDate(p.dateOfBirth)}` : null, p.email].filter(Boolean).join(' · ')}
                  </span>
                </li>
              ))}
            </ul>
          )}
          <div className="form-actions">
            <button
              type="button"
              className="btn btn-secondary"
              disabled={busy}
              onClick={() => void save(duplicate.input, true)}
            >
              {busy ? 'Saving…' : 'Save anyway as a new patient'}
            </button>
          </div>
        </section>
      )}
      {loadState === 'ready' && (
        <form onSubmit={onSubmit} noValidate className="card form">
          <Field
            id="patient-name"
            label="Full name"
            required
            autoComplete="off"
            value={draft.values.name}
            onChange={set('name')}
            error={errors.name}
          />
          <Field
            id="patient-email"
            label="Email"
            type="email"
            autoComplete="off"
            value={draft.values.email}
            onChange={set('email')}
            error={errors.email}
          />
          <Field
            id="patient-phone"
            label="Phone"
            type="tel"
            inputMode="tel"
            autoComplete="off"
            hint={phoneHint(country)}
            note={phoneNote}
            value={draft.values.phone}
            onChange={set('phone')}
            error={errors.phone}
          />
          <DateField
            id="patient-dateOfBirth"
            legend="Date of birth"
            hint={`For example ${formatDate('1985-04-12')}. Not before ${formatDate(EARLIEST_BIRTH_DATE)} and not in the future.`}
            value={draft.dob}
            onChange={(dob) => update({ ...draft, dob })}
            error={errors.dateOfBirth}
            errorPart={dobPart}
          />
          {notes && (
          <Field
            id="patient-medicalNotes"
            label="Medical notes"
            multiline
            rows={6}
            hint="Allergies, medication, conditions. The assistant sees these notes."
            counter={{ max: NOTES_MAX, count: charCount(draft.values.medicalNotes) }}
            value={draft.values.medicalNotes}
            onChange={set('medicalNotes')}
            error={errors.medicalNotes}
          />
          )}
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
      {dialog}
    </div>
  );
}
