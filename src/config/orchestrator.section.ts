import { z } from 'zod';
import { defineSection } from './config-section.js';

/** Environment variables of the orchestrator module (owned by that module's engineer). */
export const orchestratorSection = defineSection({
  schema: z.object({}),
  build: () => ({}),
});
