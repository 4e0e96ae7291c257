import { ArgumentsHost, Catch, HttpException, HttpStatus, Logger, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import { CACHE_ERROR_STATUSES } from './cache-error-statuses.js';
import { DomainError, type ErrorStatuses } from './domain-error.js';
import { fromLines, sentenceFor, type FieldProblem } from './field-problems.js';

/** The one error shape: a sentence in `message`, a typed error's `code`, per-field problems (400s only) in `details`. */
export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  /** A typed error's code callers can switch on (e.g. CUSTOMER_MISMATCH). */
  code?: string;
  details?: FieldProblem[];
}

interface Described {
  status: number;
  error: string;
  message: string;
  code?: string;
  details?: FieldProblem[];
}

/** Nest's own 404 for a path no route serves ("Cannot GET /x?y"): its URL may carry a query with a token. */
const ROUTE_NOT_FOUND = /^Cannot [A-Z]+ \//;

interface BodyParserError {
  type: string;
  status?: number;
  limit?: number;
}

function isBodyParserError(e: unknown): e is BodyParserError {
  return typeof e === 'object' && e !== null && typeof (e as BodyParserError).type === 'string' && 'status' in e;
}

/** http-errors' marker: body-parser's errors without a `type` (a body that does not inflate) carry it. */
function isHttpError(e: unknown): e is { status: number } {
  return e instanceof Error && typeof (e as { status?: unknown }).status === 'number' && typeof (e as { expose?: unknown }).expose === 'boolean';
}

/**
 * Every error leaves as `{ statusCode, error, message, details? }` with a message that says what
 * to fix. Nothing internal leaks: unknown errors become a generic 500 and are logged once, with
 * the request id, by name and message only (no request body, no headers: those may hold tokens).
 */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpErrorFilter');
  /** The code-to-status tables of the modules this filter answers for, over the cache's. */
  protected readonly statuses: ErrorStatuses;

  constructor(...tables: ErrorStatuses[]) {
    this.statuses = Object.assign({}, CACHE_ERROR_STATUSES, ...tables) as ErrorStatuses;
  }

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<Request>();
    const { status, message, error, details, code } = this.describe(exception, req);
    if (res.headersSent) return;
    const body: ErrorBody = {
      statusCode: status,
      error,
      message,
      ...(code ? { code } : {}),
      ...(details && details.length > 0 ? { details } : {}),
    };
    // An error about a token or a key is no more cacheable than the answer it replaced.
    res.setHeader('Cache-Control', 'no-store');
    res.status(status).json(body);
  }

  private describe(exception: unknown, req: Request): Described {
    // Nest 12 wraps body-parser errors in HttpExceptions whose message is JSON.parse's, which
    // quotes the body (and so a token in it): answer from the original error instead.
    if (exception instanceof HttpException && isBodyParserError(exception.cause)) exception = exception.cause;
    if (exception instanceof HttpException && isHttpError(exception.cause) && exception.cause.status < 500) {
      const status = exception.cause.status;
      return { status, error: reason(status), message: 'The request body could not be read: send plain or correctly encoded UTF-8 JSON' };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const body = exception.getResponse();
      const raw = typeof body === 'string' ? body : ((body as { message?: unknown }).message ?? exception.message);
      const given = typeof body === 'object' ? (body as { details?: FieldProblem[] }).details : undefined;
      // A typed error's code (e.g. CUSTOMER_MISMATCH) travels with it, so callers can switch on it.
      const code = typeof body === 'object' && typeof (body as { code?: unknown }).code === 'string' ? (body as { code: string }).code : undefined;
      if (Array.isArray(raw)) {
        const details = given ?? fromLines(raw.map(String));
        return { status, error: reason(status), message: sentenceFor(details), details, code };
      }
      if (status === 404 && typeof raw === 'string' && ROUTE_NOT_FOUND.test(raw)) {
        return { status, error: reason(status), message: `No route ${req.method} ${req.path}: see /docs for the routes this app serves` };
      }
      const text = typeof raw === 'string' ? raw : exception.message;
      if (status >= 500) this.logger.error(`${status} on ${req.method} ${req.route?.path ?? req.path}: ${text}`);
      return { status, error: reason(status), message: text, details: given, code };
    }
    if (isBodyParserError(exception)) {
      switch (exception.type) {
        case 'entity.parse.failed':
          return { status: 400, error: reason(400), message: 'Malformed JSON body: send a valid JSON object with Content-Type: application/json' };
        case 'entity.too.large':
          return { status: 413, error: reason(413), message: `Body too large: at most ${exception.limit ?? 'the configured'} bytes are accepted` };
        case 'encoding.unsupported':
        case 'charset.unsupported':
          return { status: 415, error: reason(415), message: 'Unsupported body encoding: send UTF-8 JSON' };
        default:
          return { status: exception.status ?? 400, error: reason(exception.status ?? 400), message: 'The request body could not be read' };
      }
    }
    // A module's typed error: its code says what went wrong, the module's table which status that is.
    if (exception instanceof DomainError && this.statuses[exception.code] !== undefined) {
      const status = this.statuses[exception.code];
      if (status >= 500) this.logger.error(`${status} on ${req.method} ${req.route?.path ?? req.path}: ${exception.code}: ${exception.message}`);
      return { status, error: reason(status), message: exception.message, code: exception.code };
    }
    const err = exception as Error;
    this.logger.error(`Unhandled ${err?.name ?? 'error'} on ${req.method} ${req.route?.path ?? req.path}: ${err?.message ?? String(exception)}`);
    return { status: 500, error: reason(500), message: 'Internal error; it has been logged' };
  }
}

/**
 * A module's DomainErrors answered with the status its code table gives, in the same body as
 * every other error. Set on the module's controllers (`@UseFilters(new DomainErrorFilter(table))`),
 * so the module answers the same wherever it is mounted; other errors go on to the app's filter.
 */
@Catch(DomainError)
export class DomainErrorFilter extends HttpErrorFilter {}

/** `Bad Request` for 400, and so on: the `error` field of every error body. */
export function reason(status: number): string {
  const name = HttpStatus[status];
  if (!name) return 'Error';
  return name
    .toLowerCase()
    .split('_')
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join(' ');
}
