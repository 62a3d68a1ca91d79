import { useEffect, useRef, useState, type FormEvent } from 'react';
import { Link, useLocation, useNavigate } from 'react-router';
import { isApiError, messageOf } from '../api';
import { useAuth } from '../auth/AuthContext';
import {
  codeFailure,
  codeStepExpired,
  nextStep,
  normalizeCode,
  passwordFailure,
  validateCode,
  type SignInStep,
} from '../auth/signIn';
import { Alert } from '../components/Alert';
import { Field } from '../components/Field';
import { focusFirstError, focusStatic } from '../lib/focus';
import { useDocumentTitle } from '../lib/hooks';
import { mapServerErrors, validateLogin, type FieldErrors } from '../lib/rules';

const FIELDS = ['email', 'password'] as const;
type LoginField = (typeof FIELDS)[number];

export function LoginPage() {
  const { login, loginMfa } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const nav = location.state as { from?: string; signedOut?: boolean } | null;
  const from = nav?.from;
  const signedOut = nav?.signedOut === true;
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [errors, setErrors] = useState<FieldErrors<LoginField>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [warning, setWarning] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  /** Bumped on every failed attempt, so a second wrong password moves focus to the message again. */
  const [attempt, setAttempt] = useState(0);
  const [step, setStep] = useState<SignInStep>({ step: 'password' });
  const [code, setCode] = useState('');
  const [codeError, setCodeError] = useState<string | null>(null);
  const codeTitle = useRef<HTMLHeadingElement>(null);
  useDocumentTitle(step.step === 'code' ? 'Enter your sign-in code' : 'Sign in');

  const done = () => navigate(from && from.startsWith('/') ? from : '/patients', { replace: true });

  // The second step starts with focus on its heading, so a screen reader hears what is asked.
  useEffect(() => {
    if (step.step === 'code') focusStatic(codeTitle.current);
  }, [step.step]);

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    setFormError(null);
    setWarning(null);
    const found = validateLogin({ email, password });
    setErrors(found);
    if (Object.keys(found).length > 0) {
      focusFirstError(FIELDS, found, 'login-');
      return;
    }
    setBusy(true);
    try {
      const result = await login({ email: email.trim(), password });
      if (result.kind === 'session') {
        done();
        return;
      }
      setPassword('');
      setCode('');
      setCodeError(null);
      setStep((s) => nextStep(s, { type: 'challenge', mfaToken: result.mfaToken, expiresIn: result.expiresIn, now: Date.now() }));
      setBusy(false);
    } catch (err) {
      setAttempt((n) => n + 1);
      if (isApiError(err) && err.fieldErrors.length > 0 && err.status === 422) {
        const mapped = mapServerErrors(err.fieldErrors, FIELDS);
        setErrors(mapped.fields);
        setFormError(mapped.other.join(' ') || null);
        focusFirstError(FIELDS, mapped.fields, 'login-');
      } else if (isApiError(err)) {
        const failure = passwordFailure(err);
        setFormError(failure.message);
        setWarning(failure.warning);
      } else {
        setFormError(messageOf(err));
      }
      setBusy(false);
    }
  };

  const onCode = async (e: FormEvent) => {
    e.preventDefault();
    if (step.step !== 'code') return;
    setFormError(null);
    setWarning(null);
    if (codeStepExpired(step, Date.now())) {
      setStep(nextStep(step, { type: 'restart' }));
      setFormError('The sign-in took too long. Enter your password again.');
      setAttempt((n) => n + 1);
      return;
    }
    const problem = validateCode(code, step.method);
    setCodeError(problem);
    if (problem) {
      requestAnimationFrame(() => document.getElementById('login-code')?.focus());
      return;
    }
    setBusy(true);
    try {
      await loginMfa(step.mfaToken, normalizeCode(code, step.method));
      done();
    } catch (err) {
      setBusy(false);
      setAttempt((n) => n + 1);
      if (!isApiError(err)) {
        setFormError(messageOf(err));
        return;
      }
      const failure = codeFailure(err, step.method);
      setWarning(failure.warning);
      if (failure.restart) {
        setStep(nextStep(step, { type: 'restart' }));
        setFormError(failure.message);
      } else {
        setCodeError(failure.message);
        setCode('');
        requestAnimationFrame(() => document.getElementById('login-code')?.focus());
      }
    }
  };

  if (step.step === 'code') {
    const totp = step.method === 'totp';
    return (
      <section className="auth-card" aria-labelledby="login-code-title">
        <h1 id="login-code-title" ref={codeTitle} tabIndex={-1}>
          Enter your sign-in code
        </h1>
        <p>
          {totp
            ? 'Open the authenticator app on your phone and enter the 6-digit code it shows for Dental Assistant.'
            : 'Enter one of the recovery codes you saved when you set up two-step sign-in. Each one works once.'}
        </p>
        {formError && (
          <Alert kind="error" focus focusKey={attempt}>
            {formError}
          </Alert>
        )}
        {warning && <Alert kind="info">{warning}</Alert>}
        <form onSubmit={onCode} noValidate>
          <Field
            id="login-code"
            label={totp ? 'Authentication code' : 'Recovery code'}
            required
            autoComplete="one-time-code"
            inputMode={totp ? 'numeric' : 'text'}
            value={code}
            onChange={setCode}
            error={codeError ?? undefined}
          />
          <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
            {busy ? 'Checking…' : 'Sign in'}
          </button>
        </form>
        <p className="auth-switch">
          <button
            type="button"
            className="btn-link"
            onClick={() => {
              setCode('');
              setCodeError(null);
              setStep(nextStep(step, { type: 'use', method: totp ? 'recovery' : 'totp' }));
            }}
          >
            {totp ? 'Use a recovery code instead' : 'Use the code from your app instead'}
          </button>
        </p>
        <p className="auth-switch">
          <button
            type="button"
            className="btn-link"
            onClick={() => {
              setStep(nextStep(step, { type: 'restart' }));
              setFormError(null);
            }}
          >
            Start again with another account
          </button>
        </p>
      </section>
    );
  }

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
      {warning && <Alert kind="info">{warning}</Alert>}
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
