import { onTestFinished } from 'vitest';
import { setLogDestination } from '../../src/observability/logging.js';

export interface LogCapture {
  /** Raw lines as written (JSON, or pretty text in development). */
  readonly lines: string[];
  /** The JSON lines, parsed; others are skipped. */
  json(): Record<string, any>[];
  /** Parsed lines whose `msg` contains `text`. */
  matching(text: string): Record<string, any>[];
}

/** Captures the app's real log output for the rest of the current test. */
export function captureLogs(): LogCapture {
  const lines: string[] = [];
  const restore = setLogDestination({ write: (s: string) => void lines.push(...s.split('\n').filter(Boolean)) });
  onTestFinished(() => restore());
  const json = () =>
    lines.flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, any>];
      } catch {
        return [];
      }
    });
  return { lines, json, matching: (text) => json().filter((l) => typeof l.msg === 'string' && l.msg.includes(text)) };
}
