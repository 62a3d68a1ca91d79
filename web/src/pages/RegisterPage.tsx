import { useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router';
import { isApiError, messageOf } from '../api';
import { useAuth } from '../auth/AuthContext';
import { Alert } from '../components/Alert';
import { Field } from '../components/Field';
import { focusFirstError } from '../lib/focus';
import { useDocumentTitle } from '../lib/hooks';
import { mapServerErrors, PASSWORD_MIN, validateRegister, type FieldErrors, type RegisterValues } from '../lib/rules';

const FIELDS = ['email', 'fullName', 'password'] as const;
type RegisterField = (typeof FIELDS)[number];

export function RegisterPage() {
  useDocumentTitle('Create an account');
  const { register } = useAuth();
  const navigate = useNavigate();
  const [values, setValues] = useState<RegisterValues>({ email: '', fullName: '', password: '' });
  const [errors, setErrors] = useState<FieldErrors<RegisterField>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [attempt, setAttempt] = useState(0);
  const set = (field: RegisterField) => (value: string) => setValues((v) => ({ ...v, [field]: value }));

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    setFormError(null);
    const found = validateRegister(values);
    setErrors(found);
    if (Object.keys(found).length > 0) {
      focusFirstError(FIELDS, found, 'register-');
      return;
    }
    setBusy(true);
    try {
      await register({ email: values.email.trim(), fullName: values.fullName.trim(), password: values.password });
      navigate('/patients', { replace: true });
    } catch (err) {
      setAttempt((n) => n + 1);
      if (isApiError(err) && err.fieldErrors.length > 0) {
        const mapped = mapServerErrors(err.fieldErrors, FIELDS);
        setErrors(mapped.fields);
        setFormError(mapped.other.join(' ') || (Object.keys(mapped.fields).length ? null : err.userMessage));
        focusFirstError(FIELDS, mapped.fields, 'register-');
      } else if (isApiError(err) && err.status === 409) {
        const message = 'An account with this email already exists. Sign in instead.';
        setErrors({ email: message });
        focusFirstError(FIELDS, { email: message }, 'register-');
      } else {
        setFormError(messageOf(err));
      }
      setBusy(false);
    }
  };

  return (
    <section className="auth-card" aria-labelledby="register-title">
      <h1 id="register-title">Create an account</h1>
      {formError && (
        <Alert kind="error" focus={Object.keys(errors).length === 0} focusKey={attempt}>
          {formError}
        </Alert>
      )}
      <form onSubmit={onSubmit} noValidate>
        <Field
          id="register-email"
          label="Email"
          type="email"
          autoComplete="email"
          required
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
        <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
          {busy ? 'Creating account…' : 'Create account'}
        </button>
      </form>
      <p className="auth-switch">
        Already have an account? <Link to="/login">Sign in</Link>
      </p>
    </section>
  );
}
