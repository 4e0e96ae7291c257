import type { z } from 'zod';

/**
 * A module was given options it cannot run with. `code` is for callers to switch on; the message
 * names the module and every bad option with what it wants, never the value (it may be a secret).
 */
export class ModuleOptionsError extends Error {
  readonly code = 'INVALID_MODULE_OPTIONS';

  constructor(
    readonly moduleName: string,
    readonly problems: string[],
  ) {
    super(`Invalid ${moduleName} options: ${problems.join('; ')}`);
    this.name = 'ModuleOptionsError';
  }
}

/** Validates a module's options with its zod schema and returns them with defaults filled in. */
export function parseModuleOptions<S extends z.ZodType>(moduleName: string, schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.length > 0 ? issue.path.map(String).join('.') : '(options)';
    return `${path} (wants ${issue.message.replace(/^Invalid input: expected /, '')})`;
  });
  throw new ModuleOptionsError(moduleName, problems);
}
