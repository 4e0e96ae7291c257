import { z } from 'zod';
import { defineSection } from './config-section.js';
import { boolVar } from './env-types.js';

/** The operator console at /console: on by default outside production, opt-in in production. */
export const consoleSection = defineSection({
  schema: z.object({
    // The default depends on NODE_ENV, so build() tells "unset" from an explicit false.
    CONSOLE_ENABLED: boolVar(false),
  }),
  build: (e, env) => ({
    enabled: (env.CONSOLE_ENABLED ?? '').trim() === '' ? env.NODE_ENV !== 'production' : e.CONSOLE_ENABLED,
  }),
});

export type ConsoleSettings = ReturnType<typeof consoleSection.build>;
