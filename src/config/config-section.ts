import type { z } from 'zod';

/**
 * One slice of the environment: the variables it reads (a zod object keyed by variable name) and
 * how they become typed config. Each module owns its section, so adding a module never edits
 * another module's variables.
 */
export interface ConfigSection<T> {
  schema: z.ZodObject<z.ZodRawShape>;
  /** Variables whose values must never be echoed back, not even in a config error. */
  secrets?: readonly string[];
  /** Variables matched by pattern rather than by name (e.g. per-user tokens). */
  secretPatterns?: readonly RegExp[];
  build(parsed: Record<string, unknown>, env: Readonly<Record<string, string | undefined>>): T;
}

export function defineSection<S extends z.ZodRawShape, T>(section: {
  schema: z.ZodObject<S>;
  secrets?: readonly string[];
  secretPatterns?: readonly RegExp[];
  build(parsed: z.infer<z.ZodObject<S>>, env: Readonly<Record<string, string | undefined>>): T;
}): ConfigSection<T> {
  return section as unknown as ConfigSection<T>;
}
