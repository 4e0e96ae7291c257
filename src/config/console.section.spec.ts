import { consoleSection } from './console.section.js';

const build = (env: Record<string, string>) => consoleSection.build(consoleSection.schema.parse(env) as never, env);

describe('CONSOLE_ENABLED', () => {
  it('defaults to on outside production and off in production', () => {
    expect(build({}).enabled).toBe(true);
    expect(build({ NODE_ENV: 'development' }).enabled).toBe(true);
    expect(build({ NODE_ENV: 'test', CONSOLE_ENABLED: '' }).enabled).toBe(true);
    expect(build({ NODE_ENV: 'production' }).enabled).toBe(false);
  });

  it('an explicit value wins in any environment', () => {
    expect(build({ NODE_ENV: 'production', CONSOLE_ENABLED: 'true' }).enabled).toBe(true);
    expect(build({ NODE_ENV: 'development', CONSOLE_ENABLED: 'false' }).enabled).toBe(false);
  });

  it('refuses anything but a boolean', () => {
    expect(consoleSection.schema.safeParse({ CONSOLE_ENABLED: 'maybe' }).success).toBe(false);
  });
});
