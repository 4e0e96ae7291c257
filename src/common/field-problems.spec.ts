import { z } from 'zod';
import { fromLines, problemsOf, sentenceFor } from './field-problems.js';

const problems = (schema: z.ZodType, value: unknown) => {
  const r = schema.safeParse(value);
  if (r.success) throw new Error('expected a failure');
  return problemsOf(r.error.issues, 'body');
};

describe('field problems: what a person reads instead of zod\'s wording', () => {
  const schema = z.strictObject({
    name: z.string(),
    qty: z.number().int().min(1).max(10),
    tags: z.array(z.string()).min(1),
    side: z.enum(['B', 'S']),
    email: z.email().optional(),
    custom: z.string({ error: 'custom must be a string (the desk id)' }),
  });

  it('rewrites zod\'s generic messages per issue, keeps a schema\'s own', () => {
    expect(problems(schema, { qty: 0, tags: [], side: 'X', email: 'nope', custom: 5, extra: 1 })).toEqual([
      { field: 'body.name', problem: 'is required (a string)' },
      { field: 'body.qty', problem: 'must be at least 1' },
      { field: 'body.tags', problem: 'must be at least 1 items' },
      { field: 'body.side', problem: 'must be one of "B", "S"' },
      { field: 'body.email', problem: 'must be a valid email' },
      { field: 'body.custom', problem: 'custom must be a string (the desk id)' },
      { field: 'body', problem: 'has unknown field(s) extra' },
    ]);
    expect(problems(schema, { name: 3, qty: 11, tags: ['a'], side: 'B', custom: 'x' })).toEqual([
      { field: 'body.name', problem: 'must be a string (got a number)' },
      { field: 'body.qty', problem: 'must be at most 10' },
    ]);
  });

  it('one problem reads as one sentence; several name the fields and point at details', () => {
    expect(sentenceFor([{ field: 'body.custom', problem: 'custom must be a string (the desk id)' }])).toBe('Invalid request: body.custom must be a string (the desk id)');
    expect(sentenceFor([{ field: 'body.name', problem: 'is required (a string)' }])).toBe('Invalid request: body.name is required (a string)');
    expect(sentenceFor([{ field: 'body.a', problem: 'x' }, { field: 'body.b', problem: 'y' }])).toBe('Invalid request: 2 problems (body.a, body.b); see details');
  });

  it('reads legacy "field: problem" lines, also with zod\'s wording in them', () => {
    expect(fromLines(['body.order.price: Invalid input: expected string, received undefined', 'no field here'])).toEqual([
      { field: 'body.order.price', problem: 'is required (a string)' },
      { field: 'request', problem: 'no field here' },
    ]);
  });
});
