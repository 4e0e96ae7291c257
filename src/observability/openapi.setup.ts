import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { API_KEY_HEADER, API_KEY_SCHEME } from '../common/openapi.js';

export const DOCS_PATH = 'docs';
export const DOCS_JSON_PATH = 'docs-json';

/** The OpenAPI document of every controller the app has, with the API-key scheme. */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Trading backend')
    .setDescription(
      'Each trading user\'s daily ShareKhan access token (submitted, or from the ShareKhan login), and orders ' +
        'placed with exactly that user\'s token, paper or live. Protected routes take an API key in the ' +
        'x-api-key header. Every error is { statusCode, error, message, details? }; a failed order answers ' +
        'with its result and a code. Probes: /health/live, /health/ready, /health/startup; metrics: /metrics.',
    )
    .setVersion('1')
    .addApiKey(
      { type: 'apiKey', in: 'header', name: API_KEY_HEADER, description: 'Admin or per-user API key' },
      API_KEY_SCHEME,
    )
    .build();
  return SwaggerModule.createDocument(app, config);
}

/**
 * Swagger UI loads only its own files (its page has inline styles, no inline script) and may not
 * be framed by another site.
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Serves the UI at /docs and the JSON at /docs-json, both with a strict CSP and no framing. */
export function setupOpenApi(app: INestApplication): void {
  app.use([`/${DOCS_PATH}`, `/${DOCS_JSON_PATH}`], (_req: unknown, res: { setHeader(name: string, value: string): void }, next: () => void) => {
    res.setHeader('Content-Security-Policy', DOCS_CSP);
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    next();
  });
  SwaggerModule.setup(DOCS_PATH, app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: DOCS_JSON_PATH,
    raw: ['json'],
  });
}
