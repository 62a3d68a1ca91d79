import { useState, type FormEvent } from 'react';
import { Link, useLocation, useNavigate } from 'react-router';
import { isApiError, messageOf } from '../api';
import { useAuth } from '../auth/AuthContext';
import { Alert } from '../components/Alert';
import { Field } from '../components/Field';
import { focusFirstError } from '../lib/focus';
import { useDocumentTitle } from '../lib/hooks';
import { mapServerErrors, validateLogin, type FieldErrors } from '../lib/rules';

const FIELDS = ['email', 'password'] as const;
type LoginField = (typeof FIELDS)[number];

export function LoginPage() {
  useDocumentTitle('Sign in');
  const { login } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const nav = location.state as { from?: string; signedOut?: boolean } | null;
  const from = nav?.from;
  const signedOut = nav?.signedOut === true;
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [errors, setErrors] = useState<FieldErrors<LoginField>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  /** Bumped on every failed attempt, so a second wrong password moves focus to the message again. */
  const [attempt, setAttempt] = useState(0);

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    setFormError(null);
    const found = validateLogin({ email, password });
    setErrors(found);
    if (Object.keys(found).length > 0) {
      focusFirstError(FIELDS, found, 'login-');
      return;
    }
    setBusy(true);
    try {
      await login({ email: email.trim(), password });
      navigate(from && from.startsWith('/') ? from : '/patients', { replace: true });
    } catch (err) {
      setAttempt((n) => n + 1);
      if (isApiError(err) && err.status === 401) {
        setFormError('The email or password is not correct.');
      } else if (isApiError(err) && err.fieldErrors.length > 0) {
        const mapped = mapServerErrors(err.fieldErrors, FIELDS);
        setErrors(mapped.fields);
        setFormError(mapped.other.join(' ') || null);
        focusFirstError(FIELDS, mapped.fields, 'login-');
      } else {
        setFormError(messageOf(err));
      }
      setBusy(false);
    }
  };

  return (
    <section className="auth-card" aria-labelledby="login-title">
      <h1 id="login-title">Sign in</h1>
      {signedOut && !formError && <Alert kind="success">You have signed out.</Alert>}
      {from && !signedOut && !formError && <Alert kind="info">Please sign in to continue.</Alert>}
      {formError && (
        <Alert kind="error" focus={Object.keys(errors).length === 0} focusKey={attempt}>
          {formError}
        </Alert>
      )}
      <form onSubmit={onSubmit} noValidate>
        <Field
          id="login-email"
          label="Email"
          type="email"
          autoComplete="email"
          required
          value={email}
          onChange={setEmail}
          error={errors.email}
        />
        <Field
          id="login-password"
          label="Password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={setPassword}
          error={errors.password}
        />
        <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <p className="auth-switch">
        New here? <Link to="/register">Create an account</Link>
      </p>
    </section>
  );
}
