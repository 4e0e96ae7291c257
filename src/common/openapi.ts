import { applyDecorators } from '@nestjs/common';
import { ApiBody, ApiParam, ApiResponse, ApiSecurity, type SchemaObject } from '@nestjs/swagger';
import { z } from 'zod';
import { reason } from './http-error.filter.js';

/**
 * OpenAPI helpers for controllers whose bodies are zod schemas. The zod schema stays the one
 * source of truth: validation (ZodValidationPipe) and documentation come from the same object.
 *
 *   @Post(':userId/token')
 *   @ApiOperation({ summary: 'Store the daily broker token of a user' })
 *   @ApiKeyProtected()
 *   @ApiZodBody(submitTokenSchema)
 *   @ApiZodResponse(201, tokenViewSchema, 'Stored; the token is shown masked')
 *   @ApiErrorResponses(BAD_TOKEN_BODY, 429)
 *   submit(@Body(new ZodValidationPipe(submitTokenSchema)) body: SubmitToken) { ... }
 */

/** Name of the API-key security scheme in the document (header `x-api-key`). */
export const API_KEY_SCHEME = 'api-key';
export const API_KEY_HEADER = 'x-api-key';

/** The body every error leaves with (see HttpErrorFilter). */
export const ERROR_BODY_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['statusCode', 'error', 'message'],
  properties: {
    statusCode: { type: 'integer' },
    error: { type: 'string', description: 'The HTTP reason phrase' },
    message: { type: 'string', description: 'What was wrong and what to send instead, as one sentence' },
    details: {
      type: 'array',
      description: 'Bad input only: each field that is wrong and what it should be',
      items: {
        type: 'object',
        required: ['field', 'problem'],
        properties: { field: { type: 'string', example: 'body.accessToken' }, problem: { type: 'string' } },
      },
    },
    code: { type: 'string', example: 'CUSTOMER_MISMATCH', description: 'Present on typed errors: a stable code to switch on' },
  },
};

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input; `details` lists each field and what it wants',
  401: 'Missing or unknown API key',
  403: 'The API key may not act on this resource',
  404: 'Not found',
  409: 'Conflict with the current state',
  412: 'A precondition is missing (e.g. no broker token submitted for the user)',
  413: 'Body too large',
  415: 'Unsupported body encoding',
  422: 'Understood but not processable',
  424: "The user's broker token is invalid (broker said 403); submit a new one",
  429: 'Rate limited; retry after the Retry-After header',
  502: 'The upstream broker failed',
  503: 'Temporarily unavailable',
  504: 'The upstream broker timed out',
};

/** What each status answers when an operation does not name its own case. */
const ERROR_EXAMPLES: Record<number, Omit<ErrorExample, 'statusCode' | 'error'>> = {
  400: {
    message: 'Invalid request: userId must be 1-64 characters A-Z, 0-9 or _ (e.g. PAPER_TRADER_001)',
    details: [{ field: 'userId', problem: 'must be 1-64 characters A-Z, 0-9 or _ (e.g. PAPER_TRADER_001)' }],
  },
  401: { message: 'Missing API key: send it in the x-api-key header' },
  404: { message: "No trading user PAPER_TRADER_009 is configured (use the exact id of a user in OrchestratorModule's `users` option)" },
  409: { message: 'The token of MASTER_USER_001 has no ShareKhan customer id, which the check needs: submit the token again with customerId' },
  412: { message: 'No ShareKhan token for MASTER_USER_001 today. Nothing was sent.' },
  413: { message: 'Body too large: at most 16384 bytes are accepted' },
  415: { message: 'Unsupported body encoding: send UTF-8 JSON' },
  422: { message: 'ShareKhan rejected the order: Insufficient margin' },
  424: { message: 'The token of MASTER_USER_001 was refused by ShareKhan (HTTP 403); submit a new one' },
  429: { message: 'Too many requests: at most 60 per 60 s; wait the number of seconds in the Retry-After header' },
  502: { message: 'ShareKhan could not validate the token: HTTP 500' },
  503: { message: 'Cannot tell whether MASTER_USER_001 has a token right now (Redis unreachable and not in memory); retry shortly' },
  504: { message: 'ShareKhan did not answer in time while trying to validate the token' },
};

/** One status as a particular operation answers it, when the status's default example would mislead. */
export interface ErrorCase {
  status: number;
  message: string;
  details?: { field: string; problem: string }[];
}

/** The token body was wrong (PUT token). */
export const BAD_TOKEN_BODY: ErrorCase = {
  status: 400,
  message: 'Invalid request: body.accessToken must be at least 8 characters',
  details: [{ field: 'body.accessToken', problem: 'accessToken must be at least 8 characters' }],
};
/** The order body was wrong (orders, signals). */
export const BAD_ORDER_BODY: ErrorCase = {
  status: 400,
  message: 'Invalid request: body.order.quantity must be a whole number',
  details: [{ field: 'body.order.quantity', problem: 'quantity must be a whole number' }],
};
/** The login callback's query was wrong. */
export const BAD_CALLBACK_QUERY: ErrorCase = {
  status: 400,
  message: 'Invalid request: query.state must not be empty',
  details: [{ field: 'query.state', problem: 'state must not be empty' }],
};
/** A user-scoped key on an admin-only route. */
export const ADMIN_ONLY: ErrorCase = { status: 403, message: 'This endpoint needs an admin API key; key "desk-1" is scoped to one user' };
/** A user-scoped key naming another user. */
export const NOT_OWN_USER: ErrorCase = { status: 403, message: 'API key "desk-1" may act only on its own user, not on MASTER_USER_001' };

interface ErrorExample {
  statusCode: number;
  error: string;
  message: string;
  details?: { field: string; problem: string }[];
}

/** A realistic error body for `status` (or for one operation's own case), in the one error shape. */
export function errorExample(status: number | ErrorCase): ErrorExample {
  if (typeof status !== 'number') {
    const { status: code, ...rest } = status;
    return { statusCode: code, error: reason(code), ...rest };
  }
  return { statusCode: status, error: reason(status), ...(ERROR_EXAMPLES[status] ?? { message: reason(status) }) };
}

/** A user id a person would type, in place of one generated from the pattern. */
export const USER_ID_EXAMPLE = 'MASTER_USER_001';

/** JSON Schema (OpenAPI 3.0 dialect) of a zod schema; `input` for bodies, `output` for responses. */
export function zodToOpenApi(schema: z.ZodType, io: 'input' | 'output' = 'input'): SchemaObject {
  const json = z.toJSONSchema(schema, { target: 'openapi-3.0', io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  return json as SchemaObject;
}

/**
 * Documents a JSON request body from the zod schema that validates it, with a hand-written
 * example (the UI would otherwise invent text from the schema's patterns).
 */
export function ApiZodBody(schema: z.ZodType, example: Record<string, unknown>, description?: string): MethodDecorator {
  return ApiBody({ schema: { ...zodToOpenApi(schema, 'input'), example }, description, required: true });
}

/** Documents a 2xx answer with its body schema and an example. */
export function ApiOkBody(status: number, description: string, schema: SchemaObject): MethodDecorator {
  return ApiResponse({ status, description, schema });
}

/** Documents one response status with a zod schema of its body. */
export function ApiZodResponse(status: number, schema: z.ZodType, description: string): MethodDecorator & ClassDecorator {
  return ApiResponse({ status, description, schema: zodToOpenApi(schema, 'output') });
}

/**
 * Documents error statuses with the shared error body and an example of that status; an
 * `ErrorCase` gives the example this operation really answers (e.g. BAD_ORDER_BODY for 400).
 */
export function ApiErrorResponses(...statuses: (number | ErrorCase)[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...statuses.map((item) => {
      const status = typeof item === 'number' ? item : item.status;
      return ApiResponse({ status, description: ERROR_DESCRIPTIONS[status] ?? 'Error', schema: { ...ERROR_BODY_SCHEMA, example: errorExample(item) } });
    }),
  );
}

/** The `:userId` path parameter, with a readable example. */
export function ApiUserIdParam(name: string): MethodDecorator {
  return ApiParam({ name, description: 'A trading user id: 1-64 characters A-Z, 0-9 or _', example: USER_ID_EXAMPLE });
}

/**
 * Marks a handler as needing the `x-api-key` header, with its 401 answer and, when the key's scope
 * can refuse it, the 403 it answers (admin-only, or another user's id).
 */
export function ApiKeyProtected(forbidden?: ErrorCase): MethodDecorator & ClassDecorator {
  return applyDecorators(ApiSecurity(API_KEY_SCHEME), ApiErrorResponses(401, ...(forbidden ? [forbidden] : [])));
}
