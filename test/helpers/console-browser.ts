import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { onTestFinished } from 'vitest';

/** Debian's `chromium`, driven by puppeteer-core (which downloads no browser). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu'],
  });
}

export interface OpenConsoleOptions {
  /** Viewport width in CSS pixels (1280 unless given). */
  width?: number;
  javaScript?: boolean;
  /** Called on the page before it loads /console, e.g. to intercept requests. */
  before?: (page: Page) => Promise<void>;
  /** `parsed`: return once the sign-in form is there, without waiting for scripts (which may be held back). */
  waitFor?: 'load' | 'parsed';
  /** Browser console lines (and page errors) are pushed here. */
  consoleLines?: string[];
}

/** A fresh browser context (empty sessionStorage, no cookies) on /console, closed after the test. */
export async function openConsole(
  browser: Browser,
  base: string,
  opts: OpenConsoleOptions = {},
): Promise<Page> {
  const context = await browser.createBrowserContext();
  onTestFinished(() => context.close());
  const page = await context.newPage();
  if (opts.consoleLines) {
    const lines = opts.consoleLines;
    page.on('console', (m) => lines.push(m.text()));
    page.on('pageerror', (e) => lines.push(`pageerror: ${String(e)}`));
  }
  await page.setViewport({ width: opts.width ?? 1280, height: 900 });
  if (opts.javaScript === false) await page.setJavaScriptEnabled(false);
  await opts.before?.(page);
  if (opts.waitFor === 'parsed') {
    // The navigation settles only when every script has run; the caller may be holding one back.
    page
      .goto(`${base}/console`, { waitUntil: 'load', timeout: 0 })
      .catch(() => undefined);
    await page.waitForSelector('#api-key');
  } else {
    await page.goto(`${base}/console`, { waitUntil: 'load' });
  }
  return page;
}

/** Signs in with the keyboard only: the key field has focus, Enter submits. */
export async function signIn(page: Page, key: string): Promise<void> {
  await page.waitForFunction(() => document.activeElement?.id === 'api-key');
  await page.keyboard.type(key);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#users tbody tr, #no-users:not([hidden])');
}

/** The text of an element, '' when it has none. */
export const textOf = (page: Page, selector: string) =>
  page.$eval(selector, (e) => e.textContent ?? '');
