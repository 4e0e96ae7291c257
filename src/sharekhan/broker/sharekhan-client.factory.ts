import { Inject, Injectable, ServiceUnavailableException } from '@nestjs/common';
import { settingNamer, type SettingNamer } from '../../common/setting-names.js';
import { SHAREKHAN_SETTINGS, type ShareKhanSettings } from '../sharekhan.options.js';
import { ShareKhanClient, type ShareKhanClientOptions } from './sharekhan-client.js';

/** No `apiKey` (or `secretKey` for the login): broker calls cannot be made (503, not 500: it is configuration, not a bug). */
export class ShareKhanNotConfiguredError extends ServiceUnavailableException {
  readonly code = 'SHAREKHAN_NOT_CONFIGURED';
  /** The ShareKhanAuthModule options that are missing, e.g. `['apiKey']`. */
  readonly missingOptions: string[];
  /** The same, as the operator sets them (the app's `settingNames`, e.g. `['SHAREKHAN_API_KEY']`). */
  readonly settings: string[];
  constructor(missing: string[], nameOf: SettingNamer = settingNamer('ShareKhanAuthModule')) {
    const settings = missing.map(nameOf);
    super({ statusCode: 503, error: 'Service Unavailable', code: 'SHAREKHAN_NOT_CONFIGURED', message: `ShareKhan is not configured: set ${settings.join(' and ')}` });
    this.missingOptions = missing;
    this.settings = settings;
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

  /** What a call that needs the API key meets while it is unset, naming what to set. */
  notConfiguredError(): ShareKhanNotConfiguredError {
    return new ShareKhanNotConfiguredError(['apiKey'], this.settings.nameOf);
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
    if (!this.settings.apiKey && !overrides.apiKey) throw this.notConfiguredError();
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
