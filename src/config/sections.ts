import { appSection } from './app.section.js';
import { cacheSection } from './cache.section.js';

/**
 * Every module's slice of the environment. A module adds its section here with one line; the
 * typed `AppConfig` follows from this map.
 */
export const configSections = {
  app: appSection,
  cache: cacheSection,
};
