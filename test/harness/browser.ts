import { existsSync } from "node:fs";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";

/** Debian's Chromium; playwright-core never downloads a browser. */
export const CHROMIUM = process.env.JUMPGATE_CHROMIUM ?? "/usr/bin/chromium";

export function haveChromium(): boolean {
  return existsSync(CHROMIUM);
}

export async function launchBrowser(): Promise<Browser> {
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      ...(root ? ["--no-sandbox"] : []),
      "--disable-dev-shm-usage",
      "--disable-gpu",
      // Loopback only: nothing in the test may reach out.
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

export interface UiPage {
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught exceptions seen so far that no `allow` pattern excuses. */
  errors(): string[];
  /** Excuses console messages matching `re` (e.g. the 403 of a deliberately wrong password). */
  allow(re: RegExp): void;
  /** Throws when the page logged an error nobody expected. */
  assertNoConsoleErrors(): void;
  close(): Promise<void>;
}

/** A fresh browser profile (own cookies) on the proxy's UI, trusting its self-signed certificate. */
export async function openUi(browser: Browser, proxyAddr: string, o: { width?: number; height?: number } = {}): Promise<UiPage> {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    baseURL: `https://${proxyAddr}`,
    viewport: { width: o.width ?? 1280, height: o.height ?? 800 },
  });
  const page = await context.newPage();
  const seen: string[] = [];
  const allowed: RegExp[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") seen.push(`console: ${m.text()} (${m.location().url})`);
  });
  page.on("pageerror", (e) => seen.push(`uncaught: ${e.message}`));
  const errors = () => seen.filter((s) => !allowed.some((re) => re.test(s)));
  return {
    context,
    page,
    errors,
    allow: (re) => allowed.push(re),
    assertNoConsoleErrors() {
      const e = errors();
      if (e.length > 0) throw new Error(`browser console errors:\n${e.join("\n")}`);
    },
    close: () => context.close(),
  };
}

/** The text xterm shows (its DOM renderer keeps one element per row). */
export async function terminalText(page: Page, scope = ".terminal-host"): Promise<string> {
  return page.locator(`${scope} .xterm-rows`).innerText();
}

/** Polls the terminal until its text matches, and returns the match. */
export async function waitForTerminal(page: Page, re: RegExp, timeoutMs = 15_000, scope = ".terminal-host"): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    last = await terminalText(page, scope).catch(() => "");
    const m = re.exec(last.replace(/\u00a0/g, " "));
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`terminal never showed ${re}; it shows:\n${last}`);
    await page.waitForTimeout(100);
  }
}

/** Types a command line into the focused xterm and presses Enter. */
export async function typeInTerminal(page: Page, line: string): Promise<void> {
  await page.locator(".terminal-host .xterm-helper-textarea").focus();
  await page.keyboard.type(line);
  await page.keyboard.press("Enter");
}
