import { Link } from 'react-router';
import { useDocumentTitle } from '../lib/hooks';

export function NotFoundPage({ what = 'Page' }: { what?: string }) {
  useDocumentTitle(`${what} not found`);
  return (
    <section className="not-found" aria-labelledby="not-found-title">
      <h1 id="not-found-title">{what} not found</h1>
      <p>It does not exist, or you do not have access to it.</p>
      <p>
        <Link to="/patients">Back to patients</Link>
      </p>
    </section>
  );
}
