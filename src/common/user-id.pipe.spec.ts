import { InvalidRequestException } from './invalid-request.exception.js';
import { UserIdPipe } from './user-id.pipe.js';
import { userIdSchema } from './user-id.js';
import { ZodValidationPipe } from './zod-validation.pipe.js';

describe('UserIdPipe', () => {
  it('passes a valid id and refuses an invalid one with the same 400 as the zod pipe', () => {
    const pipe = new UserIdPipe('userId');
    const zod = new ZodValidationPipe(userIdSchema, 'userId');
    expect(pipe.transform('PAPER_TRADER_001')).toBe('PAPER_TRADER_001');
    for (const bad of ['user_a', '', 'A'.repeat(65), 'A B', 42, undefined]) {
      const ours = (() => {
        try {
          pipe.transform(bad);
        } catch (err) {
          return err;
        }
      })();
      const theirs = (() => {
        try {
          zod.transform(bad);
        } catch (err) {
          return err;
        }
      })();
      expect(ours).toBeInstanceOf(InvalidRequestException);
      expect((ours as InvalidRequestException).getResponse()).toEqual(
        (theirs as InvalidRequestException).getResponse(),
      );
    }
  });
});
