/**
 * The one error type of the modules: a stable `code` callers switch on and a message that says
 * what to do. Which HTTP status a code answers with is the edge's business: each module keeps a
 * code-to-status table next to its controllers, and the error filter applies it.
 */
export class DomainError extends Error {
  override name = 'DomainError';
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A module's codes and the HTTP status each answers with (kept at the module's HTTP edge). */
export type ErrorStatuses = Readonly<Record<string, number>>;
