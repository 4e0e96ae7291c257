import { z } from 'zod';
import { defineSection } from './config-section.js';

/** Environment variables of the sharekhan module (owned by that module's engineer). */
export const sharekhanSection = defineSection({
  schema: z.object({}),
  build: () => ({}),
});
