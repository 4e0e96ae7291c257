import { z } from 'zod';
import { defineSection } from './config-section.js';

/** Environment variables of the auth module (owned by that module's engineer). */
export const authSection = defineSection({
  schema: z.object({}),
  build: () => ({}),
});
