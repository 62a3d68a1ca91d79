/** After a failed submit, move focus to the first field with an error (in `order`), so it is announced. */
export function focusFirstError(order: readonly string[], errors: Partial<Record<string, string>>, prefix = ''): void {
  const first = order.find((f) => errors[f]);
  if (!first) return;
  // Wait for React to render the error text the field will be described by.
  requestAnimationFrame(() => document.getElementById(prefix + first)?.focus());
}
