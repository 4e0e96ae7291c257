import { BadRequestException, Injectable, type PipeTransform } from '@nestjs/common';
import type { z } from 'zod';
import { problemsOf } from './field-problems.js';
import { InvalidRequestException } from './invalid-request.exception.js';

/**
 * Validates a body, param or query with a zod schema and answers 400 with a sentence and, in
 * `details`, each field that is wrong and what it should be. Values are never echoed back: a body may carry a token.
 */
@Injectable()
export class ZodValidationPipe<S extends z.ZodType> implements PipeTransform<unknown, z.infer<S>> {
  constructor(
    private readonly schema: S,
    private readonly what = 'body',
  ) {}

  transform(value: unknown): z.infer<S> {
    if (this.what === 'body' && (value === undefined || value === null || typeof value !== 'object')) {
      throw new BadRequestException('Request body must be a JSON object (Content-Type: application/json)');
    }
    const result = this.schema.safeParse(value);
    if (result.success) return result.data;
    throw new InvalidRequestException(problemsOf(result.error.issues, this.what));
  }
}
