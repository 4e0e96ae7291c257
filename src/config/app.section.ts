import { z } from 'zod';
import { defineSection } from './config-section.js';
import { enumVar, intVar } from './env-types.js';

export const appSection = defineSection({
  schema: z.object({
    NODE_ENV: enumVar(['development', 'production', 'test'] as const, 'development'),
    PORT: intVar(3000, 0, 65535),
    LOG_LEVEL: enumVar(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    HTTP_BODY_LIMIT_BYTES: intVar(16 * 1024, 256, 10 * 1024 * 1024),
  }),
  build: (e) => ({
    env: e.NODE_ENV,
    isProduction: e.NODE_ENV === 'production',
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    bodyLimitBytes: e.HTTP_BODY_LIMIT_BYTES,
  }),
});

export type AppSettings = ReturnType<typeof appSection.build>;
