import type { z } from 'zod';
import type { ConfigSection } from './config-section.js';
import { ConfigError } from './config-error.js';
import { productionProblems, variableOf } from './production-secrets.js';
import { configSections } from './sections.js';

type Sections = typeof configSections;
export type AppConfig = {
  [K in keyof Sections]: Sections[K] extends ConfigSection<infer T> ? T : never;
};

export type Env = Readonly<Record<string, string | undefined>>;

export { ConfigError };

/**
 * The one place that turns environment variables into typed config. Pass `env` explicitly in
 * tests; production passes process.env once, from main.ts.
 */
export function loadConfig(env: Env): AppConfig {
  const sections = Object.entries(configSections) as [string, ConfigSection<unknown>][];
  const production = env.NODE_ENV?.trim() === 'production' ? productionProblems(env, sections.map(([, s]) => s)) : [];
  const flagged = new Set(production.map((p) => p.variable));
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [key, section] of sections) {
    const result = section.schema.safeParse(env);
    if (!result.success) {
      problems.push(...describeIssues(result.error.issues, env, section));
      continue;
    }
    try {
      out[key] = section.build(result.data, env);
    } catch (err) {
      if (err instanceof ConfigError) problems.push(...err.problems);
      else throw err;
    }
  }
  // A placeholder or a missing essential is the one thing to fix about that variable.
  const all = [...problems.filter((p) => !flagged.has(variableOf(p) ?? '')), ...production.map((p) => p.line)];
  if (all.length > 0) throw new ConfigError(all);
  return out as AppConfig;
}

function describeIssues(issues: z.core.$ZodIssue[], env: Env, section: ConfigSection<unknown>): string[] {
  return issues.map((issue) => {
    const name = String(issue.path[0] ?? '(environment)');
    return `${name}=${shown(name, env[name], section)} (wants ${wanted(issue)})`;
  });
}

export function shown(name: string, value: string | undefined, section: Pick<ConfigSection<unknown>, 'secrets' | 'secretPatterns'>): string {
  if (value === undefined) return '(unset)';
  const secret =
    section.secrets?.includes(name) || section.secretPatterns?.some((p) => p.test(name));
  if (secret) return `(hidden, ${value.length} characters)`;
  const clipped = value.length > 60 ? `${value.slice(0, 60)}...` : value;
  return JSON.stringify(clipped);
}

function wanted(issue: z.core.$ZodIssue): string {
  // Our own messages already read as "what it wants"; zod's generic ones get a small rewrite.
  const m = issue.message;
  if (m.startsWith('Invalid input: expected')) return m.replace('Invalid input: expected', '').trim();
  return m;
}
