import type { ConfigSection } from './config-section.js';
import { splitEntries } from './entry-problems.js';
import { ENV_TOKEN_PREFIX } from './sharekhan.section.js';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The placeholders of deploy/secret.example.yaml (CHANGE_ME...) and production.env.example
 * (<secret>, <base64>, <token>): copied into a real deployment they would be public secrets.
 */
const PLACEHOLDER = /CHANGE_ME|<(secret|base64|token)>/i;

/** What production cannot run without, and why; TOKEN_ENCRYPTION_KEYS is checked by its own section. */
const ESSENTIALS: Record<string, string> = {
  API_KEYS:
    'at least one name:scope:secret key in production (without one every protected endpoint answers 401)',
  SHAREKHAN_API_KEY:
    "the app's ShareKhan API key in production (without it no live order and no login can be made)",
  SHAREKHAN_SECRET_KEY:
    "the app's ShareKhan secret key in production (without it the daily login cannot complete)",
  TRADING_USERS:
    'at least one userId:mode:customerId:loginId in production (without users nothing can trade)',
};

export interface ProductionProblem {
  variable: string;
  line: string;
}

/**
 * Production refuses example secrets and missing essentials, one problem per variable, never
 * echoing a value (only its length). Other sections' problems for a flagged variable are dropped
 * by the caller: the placeholder is the cause to fix.
 */
export function productionProblems(
  env: Env,
  sections: readonly ConfigSection<unknown>[],
): ProductionProblem[] {
  const problems: ProductionProblem[] = [];
  const names = new Set(sections.flatMap((s) => Object.keys(s.schema.shape)));
  for (const [name, value] of Object.entries(env)) {
    if (!names.has(name) && !name.startsWith(ENV_TOKEN_PREFIX)) continue;
    if (value === undefined || !PLACEHOLDER.test(value)) continue;
    const which = placeholderEntries(name, value);
    problems.push({
      variable: name,
      line: `${name}=(hidden, ${value.length} characters) (wants a real value in production, not the example placeholder${which} of deploy/secret.example.yaml or production.env.example)`,
    });
  }
  for (const [name, why] of Object.entries(ESSENTIALS)) {
    if ((env[name] ?? '').trim() === '')
      problems.push({ variable: name, line: `${name}=(unset) (wants ${why})` });
  }
  return problems;
}

/** For list variables, which entries hold the placeholder (by position and label, never the secret). */
function placeholderEntries(name: string, value: string): string {
  if (name !== 'API_KEYS' && name !== 'TOKEN_ENCRYPTION_KEYS') return '';
  const bad = splitEntries(value).flatMap((entry, i) => {
    if (!PLACEHOLDER.test(entry)) return [];
    const label = entry.split(':')[0];
    return [
      `entry ${i + 1}${label && !PLACEHOLDER.test(label) ? ` (${label})` : ''}`,
    ];
  });
  return bad.length > 0 ? ` in ${bad.join(', ')}` : '';
}

/** The variable a problem line is about ("NAME=..."), or null. */
export function variableOf(line: string): string | null {
  return /^([A-Z][A-Z0-9_]*)=/.exec(line)?.[1] ?? null;
}
