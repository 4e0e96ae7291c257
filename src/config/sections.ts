import { appSection } from './app.section.js';
import { authSection } from './auth.section.js';
import { cacheSection } from './cache.section.js';
import { consoleSection } from './console.section.js';
import { observabilitySection } from './observability.section.js';
import { orchestratorSection } from './orchestrator.section.js';
import { sharekhanSection } from './sharekhan.section.js';

/**
 * Every module's slice of the environment. A module adds its section here with one line; the
 * typed `AppConfig` follows from this map.
 */
export const configSections = {
  app: appSection,
  cache: cacheSection,
  auth: authSection,
  sharekhan: sharekhanSection,
  orchestrator: orchestratorSection,
  observability: observabilitySection,
  console: consoleSection,
};
