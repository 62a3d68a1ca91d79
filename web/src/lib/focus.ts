/**
 * After a failed submit, move focus to the first field with an error (in `order`), so it is announced.
 * `idOf` maps a field to its element id when it is not `prefix + field` (a date of birth has three boxes).
 */
export function focusFirstError(
  order: readonly string[],
  errors: Partial<Record<string, string>>,
  prefix = '',
  idOf?: (field: string) => string | null,
): void {
  const first = order.find((f) => errors[f]);
  if (!first) return;
  const id = idOf?.(first) ?? prefix + first;
  // Wait for React to render the error text the field will be described by.
  requestAnimationFrame(() => document.getElementById(id)?.focus());
}

/** Focuses an element that is not focusable by itself (a heading, an error summary) without adding it to Tab. */
export function focusStatic(el: HTMLElement | null | undefined): void {
  if (!el) return;
  if (!el.hasAttribute('tabindex')) el.setAttribute('tabindex', '-1');
  el.focus({ preventScroll: false });
}

/** Whether focus is somewhere the user did not choose: nowhere, the page, the main region, or a removed node. */
function focusIsIdle(previous: Element | null): boolean {
  const active = document.activeElement;
  return (
    !active ||
    active === document.body ||
    active === document.documentElement ||
    active.id === 'main' ||
    active === previous ||
    !active.isConnected
  );
}

/**
 * Moves focus to the page's main heading (`#main h1`), waiting for it when the screen is still loading (a patient
 * is fetched before its name heads the page). Does nothing if the user has put focus somewhere meanwhile.
 * Returns a function that stops waiting.
 */
export function focusMainHeading(timeoutMs = 8000): () => void {
  const previous = document.activeElement;
  const find = () => document.querySelector<HTMLElement>('#main h1');
  const attempt = (): boolean => {
    const h1 = find();
    if (!h1) return false;
    if (focusIsIdle(previous)) focusStatic(h1);
    return true;
  };
  if (attempt()) return () => undefined;
  const observer = new MutationObserver(() => {
    if (attempt()) stop();
  });
  const timer = setTimeout(() => stop(), timeoutMs);
  function stop() {
    observer.disconnect();
    clearTimeout(timer);
  }
  observer.observe(document.body, { childList: true, subtree: true });
  return stop;
}
