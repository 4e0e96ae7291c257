import { z } from 'zod';
import { defineSection } from './config-section.js';

/** Environment variables of the observability module (owned by that module's engineer). */
export const observabilitySection = defineSection({
  schema: z.object({}),
  build: () => ({}),
});
