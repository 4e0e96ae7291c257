import { Inject, Injectable, ServiceUnavailableException } from '@nestjs/common';
import { SHAREKHAN_SETTINGS, type ShareKhanSettings } from './sharekhan.options.js';
import { ShareKhanClient, type ShareKhanClientOptions } from './sharekhan-client.js';

/** No SHAREKHAN_API_KEY: broker calls cannot be made (503, not 500: it is configuration, not a bug). */
export class ShareKhanNotConfiguredError extends ServiceUnavailableException {
  constructor(missing: string) {
    super(`ShareKhan is not configured: set ${missing}`);
  }
}

/**
 * ShareKhan REST clients built from config (base URL, API key, vendor key, version id, timeout).
 * `client()` is the shared default; `create()` takes overrides, e.g. a shorter order timeout.
 */
@Injectable()
export class ShareKhanClientFactory {
  private readonly settings: ShareKhanSettings;
  private shared: ShareKhanClient | null = null;

  constructor(@Inject(SHAREKHAN_SETTINGS) settings: ShareKhanSettings) {
    this.settings = settings;
  }

  get configured(): boolean {
    return this.settings.apiKey !== null;
  }

  client(): ShareKhanClient {
    this.shared ??= this.create();
    return this.shared;
  }

  create(overrides: Partial<ShareKhanClientOptions> = {}): ShareKhanClient {
    if (!this.settings.apiKey && !overrides.apiKey) throw new ShareKhanNotConfiguredError('SHAREKHAN_API_KEY');
    return new ShareKhanClient({
      baseUrl: this.settings.apiBaseUrl,
      apiKey: this.settings.apiKey ?? '',
      vendorKey: this.settings.vendorKey,
      versionId: this.settings.versionId,
      timeoutMs: this.settings.httpTimeoutMs,
      ...overrides,
    });
  }
}
