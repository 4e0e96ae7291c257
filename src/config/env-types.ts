import { z } from 'zod';

/** Shared zod helpers for environment variables, which always arrive as strings. */

const emptyToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

export const optionalString = () =>
  z.preprocess(emptyToUndefined, z.string().optional());

export const intVar = (def: number, min: number, max: number) =>
  z.preprocess(
    emptyToUndefined,
    z.coerce
      .number({ error: `an integer between ${min} and ${max}` })
      .int({ error: `an integer between ${min} and ${max}` })
      .min(min, { error: `an integer between ${min} and ${max}` })
      .max(max, { error: `an integer between ${min} and ${max}` })
      .default(def),
  );

const toBool = (v: unknown) => {
  const s = emptyToUndefined(v);
  if (s === undefined) return undefined;
  const t = String(s).toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(t)) return true;
  if (['0', 'false', 'no', 'off'].includes(t)) return false;
  return s;
};

export const boolVar = (def: boolean) => z.preprocess(toBool, z.boolean({ error: 'true or false' }).default(def));

/** A switch whose default depends on something else (unset stays undefined). */
export const optionalBoolVar = () => z.preprocess(toBool, z.boolean({ error: 'true or false' }).optional());

export const enumVar = <T extends readonly [string, ...string[]]>(values: T, def: T[number]) =>
  z.preprocess(emptyToUndefined, z.enum(values, { error: `one of ${values.join(', ')}` }).default(def as never));

/** Comma-separated list, blanks dropped. */
export const listVar = () =>
  z.preprocess(
    (v) =>
      typeof v === 'string'
        ? v
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : v === undefined
          ? []
          : v,
    z.array(z.string()),
  );
