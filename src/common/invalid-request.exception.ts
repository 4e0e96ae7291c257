import { BadRequestException } from '@nestjs/common';
import { sentenceFor, type FieldProblem } from './field-problems.js';

/** A 400 for bad input: one sentence in `message`, each field in `details` (values never echoed). */
export class InvalidRequestException extends BadRequestException {
  constructor(readonly details: FieldProblem[]) {
    super({ message: sentenceFor(details), details });
  }
}
