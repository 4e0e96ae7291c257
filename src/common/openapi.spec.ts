import { z } from 'zod';
import { zodToOpenApi } from './openapi.js';

describe('zodToOpenApi', () => {
  const body = z.object({
    userId: z.string().regex(/^[A-Z0-9_]{1,64}$/),
    accessToken: z.string().min(10).describe('Broker access token'),
    ttlHours: z.number().int().min(1).default(8),
    at: z.string().transform((s) => new Date(s)),
  });

  it('gives an OpenAPI 3.0 object schema of the input, defaults optional', () => {
    const s = zodToOpenApi(body, 'input');
    expect(s).not.toHaveProperty('$schema');
    expect(s.type).toBe('object');
    expect(s.required).toEqual(['userId', 'accessToken', 'at']);
    expect(s.properties?.accessToken).toMatchObject({ type: 'string', minLength: 10, description: 'Broker access token' });
    expect(s.properties?.userId).toMatchObject({ pattern: '^[A-Z0-9_]{1,64}$' });
  });

  it('does not throw on what JSON Schema cannot express (transform outputs)', () => {
    expect(() => zodToOpenApi(body, 'output')).not.toThrow();
  });
});
