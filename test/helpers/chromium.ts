import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium (`apt-get install -y chromium`); playwright-core never downloads a browser. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Headless and quiet: without the background-networking flags Chromium keeps
 * trying to reach Google's hosts, which this machine's closed network refuses.
 * Playwright gives every launch a fresh, empty --user-data-dir of its own.
 */
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`no Chromium at ${CHROMIUM_PATH}: install Debian's (apt-get install -y chromium) or set CHROMIUM_PATH`);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: FLAGS });
}

/**
 * One PNG of several screenshots side by side, each under a caption: laid out
 * by the browser itself, so no image library is needed.
 */
export async function sideBySide(browser: Browser, shots: readonly { caption: string; png: Buffer }[]): Promise<Buffer> {
  const page = await browser.newPage({ viewport: { width: 400, height: 300 } });
  try {
    const figures = shots
      .map(
        ({ caption, png }) =>
          `<figure><figcaption>${caption.replace(/[<>&]/g, '')}</figcaption><img src="data:image/png;base64,${png.toString('base64')}"></figure>`,
      )
      .join('');
    await page.setContent(
      `<style>
        body { margin: 0; background: #d9dde5; font: 600 15px system-ui, sans-serif; color: #1d2330; }
        main { display: inline-flex; gap: 16px; padding: 16px; }
        figure { margin: 0; }
        figcaption { margin: 0 0 8px 2px; }
        img { display: block; border: 1px solid #aab1bf; border-radius: 6px; box-shadow: 0 2px 8px #0002; }
      </style><main>${figures}</main>`,
    );
    await page.waitForFunction('Array.from(document.images).every((img) => img.complete)');
    return await page.locator('main').screenshot();
  } finally {
    await page.close();
  }
}
