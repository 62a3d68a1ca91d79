import { useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { isApiError, messageOf, type ApiError } from '../api';
import type { RegisterRequest, User } from '../api/types';
import { useAuth } from './AuthContext';
import { Alert } from '../components/Alert';
import { Field } from '../components/Field';
import { focusFirstError } from '../lib/focus';
import { charCount, mapServerErrors, NAME_MAX, PASSWORD_MIN, validateRegister, type FieldErrors, type RegisterValues } from '../lib/rules';

const FIELDS = ['email', 'fullName', 'password', 'clinicName'] as const;
type RegisterField = (typeof FIELDS)[number];

/** An api from before clinics refuses the unknown `clinicName` field (400/422 naming it). */
export function refusesClinicName(e: ApiError): boolean {
  if (e.status !== 400 && e.status !== 422) return false;
  if (e.fieldErrors.some((f) => /clinicName|clinic_name/.test(f.field))) return e.fieldErrors.every((f) => /clinic/i.test(f.field));
  return /clinicName|clinic_name/.test(e.problem?.detail ?? '');
}

/** The words for "this server creates accounts by invitation only" (`REGISTRATION=invite`). */
export const REGISTRATION_CLOSED =
  'This server creates accounts by invitation only. Ask your clinic’s owner to invite you: the link in the invitation opens the page to create your account.';

interface Props {
  /** Registering from an invitation: the account joins that clinic instead of creating one. */
  invitationToken?: string;
  submitLabel: string;
  onDone: (user: User) => void;
}

/** Email, name, password (and, without an invitation, the new clinic's name), with the server's rules shown. */
export function RegisterForm({ invitationToken, submitLabel, onDone }: Props) {
  const { register } = useAuth();
  const [values, setValues] = useState<RegisterValues & { clinicName: string }>({
    email: '',
    fullName: '',
    password: '',
    clinicName: '',
  });
  const [errors, setErrors] = useState<FieldErrors<RegisterField>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [attempt, setAttempt] = useState(0);
  const set = (field: RegisterField) => (value: string) => setValues((v) => ({ ...v, [field]: value }));

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    setFormError(null);
    const found: FieldErrors<RegisterField> = validateRegister(values);
    if (charCount(values.clinicName.trim()) > NAME_MAX) found.clinicName = `A clinic name can be at most ${NAME_MAX} characters.`;
    setErrors(found);
    if (Object.keys(found).length > 0) {
      focusFirstError(FIELDS, found, 'register-');
      return;
    }
    setBusy(true);
    const body: RegisterRequest = { email: values.email.trim(), fullName: values.fullName.trim(), password: values.password };
    const clinicName = values.clinicName.trim();
    if (invitationToken) body.invitationToken = invitationToken;
    else if (clinicName) body.clinicName = clinicName;
    try {
      let user: User;
      try {
        user = await register(body);
      } catch (err) {
        // An api without clinics: the account works as before, without the clinic's name.
        if (!(isApiError(err) && body.clinicName && refusesClinicName(err))) throw err;
        const { clinicName: _dropped, ...rest } = body;
        user = await register(rest);
      }
      onDone(user);
    } catch (err) {
      setAttempt((n) => n + 1);
      if (isApiError(err) && err.status === 403 && err.code === 'registration_closed') {
        setFormError(REGISTRATION_CLOSED);
      } else if (
        isApiError(err) &&
        invitationToken &&
        (err.status === 404 || err.fieldErrors.some((f) => f.field === 'invitationToken'))
      ) {
        // 422 `invalid_invitation` on `invitationToken` (the api's answer) or a 404: the link, not the form, is wrong.
        setFormError(
          'This invitation is not valid for this email: it may have expired, been used or revoked. Check the email address, or ask the clinic’s owner for a new invitation.',
        );
      } else if (isApiError(err) && err.fieldErrors.length > 0) {
        const mapped = mapServerErrors(err.fieldErrors, FIELDS);
        setErrors(mapped.fields);
        setFormError(mapped.other.join(' ') || (Object.keys(mapped.fields).length ? null : err.userMessage));
        focusFirstError(FIELDS, mapped.fields, 'register-');
      } else if (isApiError(err) && err.status === 409) {
        const message = invitationToken
          ? 'An account with this email already exists. Sign in with it, then open the invitation link again to accept.'
          : 'An account with this email already exists. Sign in instead.';
        setErrors({ email: message });
        focusFirstError(FIELDS, { email: message }, 'register-');
      } else {
        setFormError(messageOf(err));
      }
      setBusy(false);
    }
  };

  return (
    <>
      {formError && (
        <Alert kind="error" focus={Object.keys(errors).length === 0} focusKey={attempt}>
          {formError}
          {formError === REGISTRATION_CLOSED && (
            <>
              {' '}
              Already have an account? <Link to="/login">Sign in</Link>.
            </>
          )}
        </Alert>
      )}
      <form onSubmit={onSubmit} noValidate>
        <Field
          id="register-email"
          label="Email"
          type="email"
          autoComplete="email"
          required
          hint={invitationToken ? 'The address the invitation was sent to.' : undefined}
          value={values.email}
          onChange={set('email')}
          error={errors.email}
        />
        <Field
          id="register-fullName"
          label="Full name"
          autoComplete="name"
          required
          value={values.fullName}
          onChange={set('fullName')}
          error={errors.fullName}
        />
        <Field
          id="register-password"
          label="Password"
          type="password"
          autoComplete="new-password"
          required
          hint={`At least ${PASSWORD_MIN} characters and hard to guess: a few unrelated words work well.`}
          value={values.password}
          onChange={set('password')}
          error={errors.password}
        />
        {!invitationToken && (
          <Field
            id="register-clinicName"
            label="Clinic name"
            autoComplete="organization"
            hint={`A new clinic is created for you, and you are its owner. Left empty: “${values.fullName.trim() || 'Your name'}’s clinic”. Joining a colleague’s clinic? Open the invitation link they sent you instead.`}
            value={values.clinicName}
            onChange={set('clinicName')}
            error={errors.clinicName}
          />
        )}
        <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
          {busy ? 'Creating account…' : submitLabel}
        </button>
      </form>
    </>
  );
}
