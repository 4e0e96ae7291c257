import { ArgumentsHost, Catch, HttpException, HttpStatus, Logger, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import { CacheValidationError } from '../cache/cache.errors.js';

interface BodyParserError {
  type: string;
  status?: number;
  limit?: number;
}

function isBodyParserError(e: unknown): e is BodyParserError {
  return typeof e === 'object' && e !== null && typeof (e as BodyParserError).type === 'string' && 'status' in e;
}

/**
 * Every error leaves as `{ statusCode, error, message }` with a message that says what to fix.
 * Nothing internal leaks: unknown errors become a generic 500 and are logged once, by name and
 * message only (no request body, no headers: those may hold tokens).
 */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpErrorFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<Request>();
    const { status, message, error, code } = this.describe(exception, req);
    if (res.headersSent) return;
    res.status(status).json({ statusCode: status, error, message, ...(code ? { code } : {}) });
  }

  private describe(exception: unknown, req: Request): { status: number; message: string | string[]; error: string; code?: string } {
    // Nest 12 wraps body-parser errors in HttpExceptions whose message is JSON.parse's, which
    // quotes the body (and so a token in it): answer from the original error instead.
    if (exception instanceof HttpException && isBodyParserError(exception.cause)) exception = exception.cause;
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const body = exception.getResponse();
      const message =
        typeof body === 'string' ? body : ((body as { message?: string | string[] }).message ?? exception.message);
      // A typed error's code (e.g. CUSTOMER_MISMATCH) travels with it, so callers can switch on it.
      const code = typeof body === 'object' && typeof (body as { code?: unknown }).code === 'string' ? (body as { code: string }).code : undefined;
      return { status, message, error: reason(status), code };
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
    if (exception instanceof CacheValidationError) {
      return { status: 400, error: reason(400), message: exception.message };
    }
    const err = exception as Error;
    this.logger.error(`Unhandled ${err?.name ?? 'error'} on ${req.method} ${req.route?.path ?? req.path}: ${err?.message ?? String(exception)}`);
    return { status: 500, error: reason(500), message: 'Internal error; it has been logged' };
  }
}

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
