import { Injectable } from '@nestjs/common';
import type { LoginBrowserReturn, LoginOutcome } from '../sharekhan/index.js';

export const CONSOLE_PATH = '/console';
const ERROR_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

/**
 * Sends the browser back to the console with the login's outcome in the URL fragment, which
 * never reaches a server, a log or a Referer. It carries the user, status and fingerprint (or the
 * HTTP status and error code of a failure), never a token or free text; the page then reloads the
 * real status.
 */
@Injectable()
export class ConsoleLoginReturn implements LoginBrowserReturn {
  urlFor(outcome: LoginOutcome): string {
    const p = new URLSearchParams();
    if (outcome.ok) {
      p.set('login', 'ok');
      p.set('user', outcome.token.userId);
      p.set('status', outcome.token.status);
      p.set('fingerprint', outcome.token.fingerprint);
    } else {
      p.set('login', 'failed');
      // Codes only: the page shows a fixed sentence for them, never text from the URL.
      p.set('code', String(outcome.statusCode));
      if (outcome.code && ERROR_CODE.test(outcome.code)) p.set('reason', outcome.code);
    }
    return `${CONSOLE_PATH}#${p.toString()}`;
  }
}
