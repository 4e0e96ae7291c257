/** The space of a Keyv with no namespace: `%` never appears in an escaped namespace except as `%25` or `%3A`. */
export const NO_NAMESPACE_SPACE = '%none';

/**
 * The cache namespace that holds one Keyv namespace's keys: the namespace with `%` and `:`
 * escaped, so two different Keyv namespaces never share a space (`a:b` and `a` stay apart).
 */
export function keyvSpace(namespace: string | undefined): string {
  if (namespace === undefined || namespace === '') return NO_NAMESPACE_SPACE;
  return namespace.replace(/[%:]/g, (c) => (c === '%' ? '%25' : '%3A'));
}
