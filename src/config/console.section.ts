import { z } from 'zod';
import { defineSection } from './config-section.js';
import { optionalBoolVar } from './env-types.js';

/** The operator console at /console: on by default outside production, opt-in in production. */
export const consoleSection = defineSection({
  schema: z.object({
    // Unset means: on unless NODE_ENV=production.
    CONSOLE_ENABLED: optionalBoolVar(),
  }),
  build: (e, env) => ({
    enabled: e.CONSOLE_ENABLED ?? env.NODE_ENV !== 'production',
  }),
});

export type ConsoleSettings = ReturnType<typeof consoleSection.build>;
