interface Props {
  page: number;
  limit: number;
  total: number;
  onPage: (page: number) => void;
  label: string;
}

export function Pagination({ page, limit, total, onPage, label }: Props) {
  const pages = Math.max(1, Math.ceil(total / limit));
  if (total <= limit && page <= 1) return null;
  return (
    <nav className="pagination" aria-label={label}>
      <button type="button" className="btn btn-secondary" disabled={page <= 1} onClick={() => onPage(page - 1)}>
        <span aria-hidden="true">← </span>Previous
      </button>
      <span className="pagination-status" aria-current="page">
        Page {page} of {pages}
      </span>
      <button type="button" className="btn btn-secondary" disabled={page >= pages} onClick={() => onPage(page + 1)}>
        Next<span aria-hidden="true"> →</span>
      </button>
    </nav>
  );
}
