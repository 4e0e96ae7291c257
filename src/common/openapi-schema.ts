import type { SchemaObject } from '@nestjs/swagger';

/** Small builders for hand-written response schemas (responses are TypeScript types, not zod). */
export const str = (description?: string, extra: SchemaObject = {}): SchemaObject => ({ type: 'string', ...(description ? { description } : {}), ...extra });
export const int = (description?: string): SchemaObject => ({ type: 'integer', ...(description ? { description } : {}) });
export const bool = (description?: string): SchemaObject => ({ type: 'boolean', ...(description ? { description } : {}) });
export const oneOf = (values: readonly string[], description?: string): SchemaObject => ({ type: 'string', enum: [...values], ...(description ? { description } : {}) });
export const time = (description?: string): SchemaObject => str(description, { format: 'date-time' });
export const nullable = (schema: SchemaObject): SchemaObject => ({ ...schema, nullable: true });
export const list = (items: SchemaObject, description?: string): SchemaObject => ({ type: 'array', items, ...(description ? { description } : {}) });

/** An object whose listed properties are all present (nullable ones may be null). */
export function obj(properties: Record<string, SchemaObject>, optional: readonly string[] = []): SchemaObject {
  return { type: 'object', properties, required: Object.keys(properties).filter((k) => !optional.includes(k)) };
}

export const CACHE_MODE = oneOf(['redis', 'memory', 'fallback', 'recovering'], 'The cache mode when the answer was made');
