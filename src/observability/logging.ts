import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino, type DestinationStream, type LevelWithSilent } from 'pino';
import type { Options } from 'pino-http';
import { REDACTED, redactPaths, redactQuery, redactUrl, scrubDeep } from './redaction.js';

export const REQUEST_ID_HEADER = 'x-request-id';

/** Ids a caller may hand us: short, printable, no separators that could forge log structure. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:@=+/-]{1,128}$/;

/** The caller's x-request-id when it is sane (so ids correlate across services), else a new UUID. */
export function requestIdFor(req: IncomingMessage, res: ServerResponse): string {
  const incoming = req.headers[REQUEST_ID_HEADER];
  const candidate = Array.isArray(incoming) ? incoming[0] : incoming;
  const id = candidate && SANE_REQUEST_ID.test(candidate) ? candidate : randomUUID();
  res.setHeader(REQUEST_ID_HEADER, id);
  return id;
}

/**
 * Where log lines go. nestjs-pino builds one pino instance per process, on first use, so a
 * destination fixed at that moment would outlive the app that chose it. Lines go through this
 * sink instead, and `setLogDestination` swaps what is behind it (tests capture real output).
 */
let destination: DestinationStream = pino.destination({ dest: 1, sync: true });
const sink: DestinationStream = { write: (line: string) => destination.write(format ? format(line) : line) };

/** Test hook: send log lines to `stream`; returns a function that restores the previous one. */
export function setLogDestination(stream: DestinationStream): () => void {
  const previous = destination;
  destination = stream;
  return () => {
    destination = previous;
  };
}

/** Development's readable lines (pino-pretty), or null for JSON lines. */
let format: ((line: string) => string) | null = null;

/**
 * JSON lines (production, tests, log stacks) or, in development, pino-pretty's readable ones.
 * Set on the sink, like the destination, because the pino instance outlives the app that made it.
 * pino-pretty is a dev dependency: an image without it logs JSON.
 */
export async function usePrettyLogs(pretty: boolean): Promise<void> {
  format = null;
  if (!pretty) return;
  try {
    const { prettyFactory } = await import('pino-pretty');
    format = prettyFactory({
      colorize: Boolean(process.stdout.isTTY),
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,context',
      messageFormat: '{if context}[{context}] {end}{msg}',
    });
  } catch {
    // Pruned from the image: JSON it is.
  }
}

/** Probes and scrapes arrive every few seconds from every pod; a line each would drown the rest. */
const QUIET_PATHS = /^\/(health\/(live|ready|startup)|metrics)(\?|$)/;

export function pinoHttpOptions(level: LevelWithSilent): [Options, DestinationStream] {
  const options: Options = {
    level,
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: redactPaths(), censor: REDACTED },
    formatters: {
      level: (label) => ({ level: label }),
      // Catches credential-named fields at any depth in objects our own code logs.
      log: (obj) => scrubDeep(obj),
    },
    genReqId: requestIdFor,
    customAttributeKeys: { reqId: 'requestId' },
    quietReqLogger: true,
    autoLogging: { ignore: (req) => QUIET_PATHS.test(req.url ?? '') },
    // pino-http invents an Error (and its stack) for every 5xx; the error filter already logged the
    // real cause once with the request id, so the response line keeps only the response.
    customErrorObject: (_req, _res, err, val: Record<string, unknown>) => {
      if (!err.message.startsWith('failed with status code')) return val;
      const { err: _synthetic, ...rest } = val;
      return rest;
    },
    customErrorMessage: (req, res) => `${req.method} ${redactUrl(req.url)} answered ${res.statusCode}`,
    customLogLevel: (_req, res, err) => {
      if (err || res.statusCode >= 500) return 'error';
      if (res.statusCode >= 400) return 'warn';
      return 'info';
    },
    serializers: {
      req: (req: { url?: string; query?: unknown; params?: unknown }) => {
        req.url = redactUrl(req.url);
        if (req.query) req.query = redactQuery(req.query);
        return req;
      },
    },
  };
  return [options, sink];
}
