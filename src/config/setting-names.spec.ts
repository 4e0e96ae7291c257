import { z } from 'zod';
import {
  orchestratorOptionsSchema,
  resolveOrchestratorOptions,
} from '../orchestrator/index.js';
import {
  ShareKhanNotConfiguredError,
  resolveShareKhanOptions,
  shareKhanOptionsSchema,
} from '../sharekhan/index.js';
import { loadConfig } from './load-config.js';
import {
  ORCHESTRATOR_SETTING_NAMES,
  orchestratorSection,
} from './orchestrator.section.js';
import {
  ENV_TOKEN_PREFIX,
  SHAREKHAN_SETTING_NAMES,
  sharekhanSection,
} from './sharekhan.section.js';

/** The option paths a zod object schema accepts: `apiKey`, `encryption`, `encryption.keys`, ... */
function optionPaths(schema: z.ZodType, prefix = ''): string[] {
  let s = schema as z.ZodType & {
    def: {
      type: string;
      innerType?: z.ZodType;
      in?: z.ZodType;
      shape?: Record<string, z.ZodType>;
    };
  };
  while (s.def.innerType ?? s.def.in)
    s = (s.def.innerType ?? s.def.in) as typeof s;
  const shape = (s as unknown as z.ZodObject).shape as
    Record<string, z.ZodType> | undefined;
  if (s.def.type !== 'object' || !shape) return [];
  return Object.entries(shape).flatMap(([k, v]) => [
    `${prefix}${k}`,
    ...optionPaths(v, `${prefix}${k}.`),
  ]);
}

describe('what the app calls each module option in messages', () => {
  it.each([
    [
      'ShareKhanAuthModule',
      SHAREKHAN_SETTING_NAMES,
      shareKhanOptionsSchema,
      sharekhanSection.schema,
    ],
    [
      'OrchestratorModule',
      ORCHESTRATOR_SETTING_NAMES,
      orchestratorOptionsSchema,
      orchestratorSection.schema,
    ],
  ])(
    '%s: every named option exists, and every name is a variable the app reads',
    (_m, names, schema, envSchema) => {
      const paths = optionPaths(schema as z.ZodType);
      const variables = [
        ...Object.keys((envSchema as z.ZodObject).shape),
        'TRADING_USERS',
        `${ENV_TOKEN_PREFIX}<USER_ID>`,
      ];
      for (const [option, variable] of Object.entries(names)) {
        expect(paths, option).toContain(option);
        expect(variables, variable).toContain(variable);
      }
    },
  );

  it('the app hands the names to the modules: a missing key is SHAREKHAN_API_KEY, trading users are TRADING_USERS', () => {
    const config = loadConfig({ NODE_ENV: 'development' });
    const sharekhan = resolveShareKhanOptions(config.sharekhan);
    expect(
      new ShareKhanNotConfiguredError(['apiKey', 'secretKey'], sharekhan.nameOf)
        .message,
    ).toBe(
      'ShareKhan is not configured: set SHAREKHAN_API_KEY and SHAREKHAN_SECRET_KEY',
    );
    expect(sharekhan.nameOf('encryption.keys')).toBe('TOKEN_ENCRYPTION_KEYS');
    expect(
      resolveOrchestratorOptions(config.orchestrator).nameOf('users'),
    ).toBe('TRADING_USERS');
    // A library user who names nothing reads the option names.
    expect(resolveOrchestratorOptions({}).nameOf('users')).toBe(
      "OrchestratorModule's `users` option",
    );
  });
});
