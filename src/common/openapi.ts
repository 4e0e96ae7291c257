import { applyDecorators } from '@nestjs/common';
import { ApiBody, ApiResponse, ApiSecurity, type SchemaObject } from '@nestjs/swagger';
import { z } from 'zod';

/**
 * OpenAPI helpers for controllers whose bodies are zod schemas. The zod schema stays the one
 * source of truth: validation (ZodValidationPipe) and documentation come from the same object.
 *
 *   @Post(':userId/token')
 *   @ApiOperation({ summary: 'Store the daily broker token of a user' })
 *   @ApiKeyProtected()
 *   @ApiZodBody(submitTokenSchema)
 *   @ApiZodResponse(201, tokenViewSchema, 'Stored; the token is shown masked')
 *   @ApiErrorResponses(400, 429)
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
    statusCode: { type: 'integer', example: 400 },
    error: { type: 'string', example: 'Bad Request' },
    message: {
      oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
      description: 'What was wrong and what to send instead',
    },
    code: { type: 'string', example: 'CUSTOMER_MISMATCH', description: 'Present on typed errors: a stable code to switch on' },
  },
};

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input; the message says which field and what it wants',
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

/** JSON Schema (OpenAPI 3.0 dialect) of a zod schema; `input` for bodies, `output` for responses. */
export function zodToOpenApi(schema: z.ZodType, io: 'input' | 'output' = 'input'): SchemaObject {
  const json = z.toJSONSchema(schema, { target: 'openapi-3.0', io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  return json as SchemaObject;
}

/** Documents a JSON request body from the zod schema that validates it. */
export function ApiZodBody(schema: z.ZodType, description?: string): MethodDecorator {
  return ApiBody({ schema: zodToOpenApi(schema, 'input'), description, required: true });
}

/** Documents one response status with a zod schema of its body. */
export function ApiZodResponse(status: number, schema: z.ZodType, description: string): MethodDecorator & ClassDecorator {
  return ApiResponse({ status, description, schema: zodToOpenApi(schema, 'output') });
}

/** Documents error statuses with the shared `{ statusCode, error, message }` body. */
export function ApiErrorResponses(...statuses: number[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...statuses.map((status) =>
      ApiResponse({ status, description: ERROR_DESCRIPTIONS[status] ?? 'Error', schema: ERROR_BODY_SCHEMA }),
    ),
  );
}

/** Marks a controller or handler as needing the `x-api-key` header, with its 401/403 answers. */
export function ApiKeyProtected(): MethodDecorator & ClassDecorator {
  return applyDecorators(ApiSecurity(API_KEY_SCHEME), ApiErrorResponses(401, 403));
}
