import { Link, useNavigate } from 'react-router';
import { RegisterForm } from '../auth/RegisterForm';
import { useDocumentTitle } from '../lib/hooks';

export function RegisterPage() {
  useDocumentTitle('Create an account');
  const navigate = useNavigate();
  return (
    <section className="auth-card" aria-labelledby="register-title">
      <h1 id="register-title">Create an account</h1>
      <RegisterForm submitLabel="Create account" onDone={() => navigate('/patients', { replace: true })} />
      <p className="auth-switch">
        Already have an account? <Link to="/login">Sign in</Link>
      </p>
    </section>
  );
}
