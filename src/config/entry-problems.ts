import type { z } from 'zod';

/** How one variable's comma-separated entries are named in a problem. */
export interface EntryWording {
  /** Where the entries sit in the module's options, e.g. ['apiKeys'] or ['encryption', 'keys']. */
  listPath: readonly PropertyKey[];
  /** The field that names an entry (shown beside its position when valid), e.g. 'name' or 'id'. */
  labelField: string;
  /** Joins "entry N" to the module's own message for a field: "to have", "to be". */
  verb(field: string | undefined): string;
  /**
   * The field holding a secret: when it is the one that is wrong the fields may be swapped, so the
   * label (maybe the secret) is not shown for that entry.
   */
  secretField?: string;
  /** The entry number (from 1) of each list item, when entries that failed to split were left out. */
  positions?: readonly number[];
}

/**
 * Validates what a variable's entries became with the module's own options schema, so each rule
 * lives in the module, and phrases its issues per entry ("entry 2 (ops) to have ..."). Module
 * messages never hold a value, and an entry's label is shown only when it is not what is wrong.
 */
export function entryProblems(
  schema: z.ZodType,
  options: unknown,
  wording: EntryWording,
): string[] {
  const result = schema.safeParse(options);
  if (result.success) return [];
  const { listPath } = wording;
  const entries = listPath.reduce<unknown>(
    (o, k) => (o as Record<PropertyKey, unknown>)?.[k],
    options,
  ) as Record<string, unknown>[] | undefined;
  const issues = result.error.issues.filter((issue) =>
    listPath.every((k, i) => issue.path[i] === k),
  );
  const at = (issue: z.core.$ZodIssue) => issue.path.slice(listPath.length);
  // An entry whose label or secret is itself wrong is named by position only.
  const hidden = new Set([wording.labelField, wording.secretField]);
  const badLabels = new Set(
    issues.filter((i) => hidden.has(at(i)[1] as string)).map((i) => at(i)[0]),
  );
  return issues.map((issue) => {
    const [index, field] = at(issue);
    if (typeof index !== 'number') return issue.message;
    const name = entries?.[index]?.[wording.labelField];
    const showName =
      !badLabels.has(index) &&
      typeof name === 'string' &&
      !issue.message.includes(`(${name})`);
    const where = `entry ${wording.positions?.[index] ?? index + 1}${showName ? ` (${name})` : ''}`;
    return `${where} ${wording.verb(typeof field === 'string' ? field : undefined)} ${issue.message}`;
  });
}

/** Comma-separated entries, trimmed, blanks dropped. */
export function splitEntries(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
