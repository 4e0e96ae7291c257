import { Inject, Injectable, ServiceUnavailableException } from '@nestjs/common';
import { SHAREKHAN_SETTINGS, type ShareKhanSettings } from './sharekhan.options.js';
import { ShareKhanClient, type ShareKhanClientOptions } from './sharekhan-client.js';

/** No `apiKey` (or `secretKey` for the login): broker calls cannot be made (503, not 500: it is configuration, not a bug). */
export class ShareKhanNotConfiguredError extends ServiceUnavailableException {
  /** The ShareKhanAuthModule options that are missing, e.g. `['apiKey']`. */
  readonly missingOptions: string[];
  constructor(missing: string[]) {
    super(`ShareKhan is not configured: set the ShareKhanAuthModule option${missing.length > 1 ? 's' : ''} ${missing.join(' and ')}`);
    this.missingOptions = missing;
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

  /** What identifies the API key's budget at the broker (hash it before storing it anywhere). */
  get apiKeyId(): string {
    return this.settings.apiKey ?? '';
  }

  client(): ShareKhanClient {
    this.shared ??= this.create();
    return this.shared;
  }

  create(overrides: Partial<ShareKhanClientOptions> = {}): ShareKhanClient {
    if (!this.settings.apiKey && !overrides.apiKey) throw new ShareKhanNotConfiguredError(['apiKey']);
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
