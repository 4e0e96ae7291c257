import { z } from 'zod';
import { defineSection } from './config-section.js';
import { enumVar, intVar, optionalString } from './env-types.js';

/** Largest accepted JSON body; token and order bodies are far smaller. */
const BODY_LIMIT_BYTES = 16 * 1024;

/**
 * Express `trust proxy`: how many proxy hops (the ingress) stand in front of the app, or which
 * proxy addresses to trust. Unset trusts none, so `req.ip` is the peer's address.
 */
const trustProxyVar = () =>
  optionalString().pipe(
    z
      .string()
      .regex(/^(\d{1,2}|(loopback|linklocal|uniquelocal|[0-9a-fA-F.:/]+)(\s*,\s*(loopback|linklocal|uniquelocal|[0-9a-fA-F.:/]+))*)$/, {
        error: 'a number of proxy hops (e.g. 1 behind one ingress) or comma-separated proxy addresses / CIDRs (loopback, uniquelocal, 10.0.0.0/8)',
      })
      .optional(),
  );

export const appSection = defineSection({
  schema: z.object({
    NODE_ENV: enumVar(['development', 'production', 'test'] as const, 'development'),
    PORT: intVar(3000, 0, 65535),
    LOG_LEVEL: enumVar(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    TRUST_PROXY: trustProxyVar(),
  }),
  build: (e) => ({
    env: e.NODE_ENV,
    isProduction: e.NODE_ENV === 'production',
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    bodyLimitBytes: BODY_LIMIT_BYTES,
    /** Express `trust proxy` value: false, a hop count, or a list of trusted proxy addresses. */
    trustProxy: e.TRUST_PROXY === undefined ? false : /^\d+$/.test(e.TRUST_PROXY) ? Number(e.TRUST_PROXY) : e.TRUST_PROXY,
  }),
});

export type AppSettings = ReturnType<typeof appSection.build>;
