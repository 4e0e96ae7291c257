import { z } from 'zod';

/**
 * What an operator sets to change a module option, by option path (`apiKey`, `encryption.keys`).
 * The library names its own options; an app that fills them from its configuration passes
 * `settingNames` so that messages name what its operators actually set (e.g. SHAREKHAN_API_KEY).
 */
export type SettingNames = Readonly<Record<string, string>>;

export const settingNamesSchema = z
  .record(z.string().min(1), z.string().min(1))
  .default({});

/** `nameOf('apiKey')`: the app's name for the option, else "ShareKhanAuthModule's `apiKey` option". */
export type SettingNamer = (option: string) => string;

export function settingNamer(
  moduleName: string,
  names: SettingNames = {},
): SettingNamer {
  return (option) => names[option] ?? `${moduleName}'s \`${option}\` option`;
}
