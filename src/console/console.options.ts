export const CONSOLE_OPTIONS = Symbol('console-options');

export interface ConsoleUser {
  userId: string;
  mode: 'paper' | 'live';
}

export interface ConsoleModuleOptions {
  /** Serve /console (default outside production; CONSOLE_ENABLED in production). */
  enabled: boolean;
  /** The trading users, one row each (an admin key sees all, a user key its own). */
  users: readonly ConsoleUser[];
}
