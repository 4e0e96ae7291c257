import { Injectable } from '@nestjs/common';
import type { LoginBrowserReturn, LoginOutcome } from '../sharekhan/index.js';

export const CONSOLE_PATH = '/console';

/**
 * Sends the browser back to the console with the login's outcome in the URL fragment, which
 * never reaches a server, a log or a Referer. It carries the user, status and fingerprint, never
 * a token; the page shows it and then reloads the real status from the API.
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
      p.set('code', String(outcome.statusCode));
      p.set('message', outcome.message.slice(0, 300));
    }
    return `${CONSOLE_PATH}#${p.toString()}`;
  }
}
