import { Inject, Injectable } from '@nestjs/common';
import { SHAREKHAN_SETTINGS, type ShareKhanSettings } from '../sharekhan.options.js';
import { ShareKhanNotConfiguredError } from './broker-errors.js';
import { ShareKhanClient, type ShareKhanClientOptions } from './sharekhan-client.js';

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
