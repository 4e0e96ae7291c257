import { Injectable } from '@nestjs/common';

/**
 * The wall clock token expiry is judged by. A provider of its own so tests can move it to the
 * IST cut-off (spy on `now`) without touching the cache's or the process's clock.
 */
@Injectable()
export class TokenClock {
  now(): number {
    return Date.now();
  }
}
