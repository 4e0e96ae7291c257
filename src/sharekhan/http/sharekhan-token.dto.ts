import { z } from 'zod';

const brokerId = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .regex(/^[A-Za-z0-9_-]{1,64}$/, { error: `${what} must be 1-64 characters A-Z a-z 0-9 _ -` });

/** Manual daily submission. Unknown fields are refused so a misspelt `accessToken` is not silently dropped. */
export const submitTokenSchema = z.strictObject(
  {
    accessToken: z
      .string({ error: 'accessToken must be a string (the ShareKhan access token of today)' })
      .min(8, { error: 'accessToken must be at least 8 characters' })
      .max(4096, { error: 'accessToken must be at most 4096 characters' })
      .regex(/^[\x21-\x7e]+$/, { error: 'accessToken must be printable ASCII without spaces' }),
    customerId: brokerId('customerId').nullish(),
    loginId: brokerId('loginId').nullish(),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}; allowed: accessToken, customerId, loginId` : undefined) },
);
export type SubmitTokenBody = z.infer<typeof submitTokenSchema>;

/** What ShareKhan appends to the redirect URL. Other query parameters are ignored. */
export const callbackQuerySchema = z.object({
  request_token: z
    .string({ error: 'request_token must be given once, as a string' })
    .min(1, { error: 'request_token must not be empty' })
    .max(4096, { error: 'request_token must be at most 4096 characters' }),
  state: z
    .string({ error: 'state must be given once, as a string' })
    .min(1, { error: 'state must not be empty' })
    .max(256, { error: 'state must be at most 256 characters' }),
});
export type CallbackQuery = z.infer<typeof callbackQuerySchema>;
