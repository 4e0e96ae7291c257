import type { z } from 'zod';

/** One thing wrong with a request: where (`body.accessToken`, `query.state`) and what to send instead. */
export interface FieldProblem {
  field: string;
  problem: string;
}

/** zod's generic wording; a schema's own `error` messages already say what to send and are kept. */
const ZOD_DEFAULT = /^(Invalid|Too (small|big)|Unrecognized)/;

const UNITS: Record<string, string> = { string: 'characters', array: 'items', set: 'items', file: 'bytes' };

/** A sentence fragment a person can act on, in place of zod's "Invalid input: expected string, received undefined". */
export function describeIssue(issue: z.core.$ZodIssue): string {
  if (!ZOD_DEFAULT.test(issue.message)) return issue.message;
  switch (issue.code) {
    case 'invalid_type': {
      const received = /received (\w+)/.exec(issue.message)?.[1];
      return received === 'undefined' ? `is required (${article(issue.expected)})` : `must be ${article(issue.expected)}${received ? ` (got ${article(received)})` : ''}`;
    }
    case 'too_small':
      return `must be at least ${issue.minimum}${unit(issue.origin)}`;
    case 'too_big':
      return `must be at most ${issue.maximum}${unit(issue.origin)}`;
    case 'invalid_format':
      return `must be a valid ${issue.format}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'unrecognized_keys':
      return `has unknown field(s) ${issue.keys.join(', ')}`;
    case 'invalid_union':
      return 'does not match any of the accepted forms (see /docs)';
    default:
      return 'is not valid (see /docs for the accepted form)';
  }
}

/** Field problems from zod issues; `where` is `body`, `query` or a parameter name. */
export function problemsOf(issues: readonly z.core.$ZodIssue[], where: string): FieldProblem[] {
  return issues.map((i) => ({ field: i.path.length ? `${where}.${i.path.join('.')}` : where, problem: describeIssue(i) }));
}

/** The human sentence of a 400 whose details list the fields. */
export function sentenceFor(problems: readonly FieldProblem[]): string {
  if (problems.length === 1) return `Invalid request: ${problems[0].field} ${problems[0].problem.replace(new RegExp(`^${escape(leaf(problems[0].field))} `), '')}`;
  return `Invalid request: ${problems.length} problems (${[...new Set(problems.map((p) => p.field))].join(', ')}); see details`;
}

/** Legacy "field: problem" strings (order problems) as field problems. */
export function fromLines(lines: readonly string[]): FieldProblem[] {
  return lines.map((line) => {
    const i = line.indexOf(': ');
    return i > 0 ? { field: line.slice(0, i), problem: plainWords(line.slice(i + 2)) } : { field: 'request', problem: plainWords(line) };
  });
}

/** zod's wording where only its text survived (order problems are strings). */
function plainWords(problem: string): string {
  const m = /^Invalid input: expected (\w+), received (\w+)$/.exec(problem);
  if (!m) return problem;
  return m[2] === 'undefined' ? `is required (${article(m[1])})` : `must be ${article(m[1])} (got ${article(m[2])})`;
}

const leaf = (field: string) => field.split('.').at(-1) ?? field;
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const unit = (origin: string) => (UNITS[origin] ? ` ${UNITS[origin]}` : '');
const article = (type: string) => (/^(array|object|integer|undefined)$/.test(type) ? `an ${type}` : `a ${type}`);
