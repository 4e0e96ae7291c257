import { Injectable, type PipeTransform } from '@nestjs/common';
import { USER_ID_PATTERN, userIdSchema } from './user-id.js';
import { ZodValidationPipe } from './zod-validation.pipe.js';

/**
 * A user id route param: a valid id passes on the pattern test alone (what the schema checks), an
 * invalid one goes through zod for the same 400 naming the field. Every token request passes here.
 */
@Injectable()
export class UserIdPipe implements PipeTransform<unknown, string> {
  private readonly zod: ZodValidationPipe<typeof userIdSchema>;

  constructor(field = 'userId') {
    this.zod = new ZodValidationPipe(userIdSchema, field);
  }

  transform(value: unknown): string {
    if (typeof value === 'string' && USER_ID_PATTERN.test(value)) return value;
    return this.zod.transform(value);
  }
}
