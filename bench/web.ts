/**
 * The web UI, measured in Debian's Chromium (playwright-core) against a real
 * cluster on loopback: a daemon (auth + proxy) and a node agent that reaches
 * the proxy through a reverse tunnel.
 *
 *   (a) time from submitting the sign-in form to the first shell prompt in the
 *       web terminal (sign-in → resource list → Connect → prompt), median of
 *       N runs; each run is a fresh browser profile and a fresh user (a TOTP
 *       code can be used once), with the proxy's caches warm after a first,
 *       unmeasured run;
 *   (b) the gzipped size of the JavaScript the first page loads (the entry
 *       script and its modulepreloads in web/dist/index.html), against the
 *       500 KB budget of issue 4.
 *
 *   node --import tsx bench/web.ts [--runs 5] [--json]      (or bench/web.sh)
 *
 * Flags also read BENCH_RUNS and BENCH_JSON=1. Needs root (the login is root)
 * and /usr/bin/chromium (bench/web.sh installs Debian's chromium when missing).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { totpCode } from "../src/lib/auth/index.ts";
import { launchBrowser, openUi, waitForTerminal } from "../test/harness/browser.ts";
import { cleanup, ROOT, run, startAgent, startDaemon, tempDir } from "../test/harness/cluster.ts";
import { TEST_PASSWORD } from "../test/harness/users.ts";
import { webJson } from "../test/harness/web.ts";

const NODE = "bench-web";
const BUDGET_BYTES = 500 * 1024;

const { values } = parseArgs({
  options: { runs: { type: "string" }, json: { type: "boolean" } },
});
const runs = Number(values.runs ?? process.env.BENCH_RUNS ?? 5);
const json = values.json ?? process.env.BENCH_JSON === "1";

/** Gzipped bytes of each script the first page loads. */
export function firstPageJs(dist = join(ROOT, "web", "dist")): { files: { file: string; gzip: number }[]; total: number } {
  const html = readFileSync(join(dist, "index.html"), "utf8");
  const files = [...html.matchAll(/(?:src|href)="\/web\/(assets\/[^"]+\.js)"/g)].map((m) => {
    const file = m[1] ?? "";
    return { file, gzip: gzipSync(readFileSync(join(dist, file)), { level: 9 }).length };
  });
  return { files, total: files.reduce((a, f) => a + f.gzip, 0) };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};

const size = firstPageJs();
const work = tempDir("bench-web");
const d = await startDaemon({ extraArgs: ["--roles", "auth,proxy"] });
let agent: Awaited<ReturnType<typeof startAgent>> | undefined;
const browser = await launchBrowser();
const samples: { signIn: number; list: number; prompt: number }[] = [];
try {
  const tok = JSON.parse((await run("jctl", ["--data-dir", d.dataDir, "tokens", "add", "--type=node", "--format=json"])).stdout);
  writeFileSync(join(work, "agent.yaml"), `version: v3\njumpgate:\n  nodename: ${NODE}\nssh_service:\n  enabled: yes\n`);
  agent = await startAgent({ proxyAddr: d.proxyAddr, token: tok.token, config: join(work, "agent.yaml") });

  for (let i = 0; i <= runs; i++) {
    const name = `bench${i}`;
    const add = await run("jctl", ["--data-dir", d.dataDir, "users", "add", name, "--roles=access", "--logins=root"]);
    const token = /\/web\/invite\/([0-9a-f]+)/.exec(add.stdout)?.[1] ?? "";
    const secret = String((await webJson(d.proxyAddr, "GET", `/webapi/invites/${token}`)).body.totp_secret);
    const done = await webJson(d.proxyAddr, "POST", `/webapi/invites/${token}`, { password: TEST_PASSWORD, totp_code: totpCode(secret, new Date()) });
    if (done.status !== 200) throw new Error(`invite: ${done.text}`);

    const ui = await openUi(browser, d.proxyAddr);
    const { page } = ui;
    await page.goto("/web/login");
    await page.getByLabel("Username").fill(name);
    await page.getByLabel("Password").fill(TEST_PASSWORD);
    await page.getByLabel("Authenticator code").fill(totpCode(secret, new Date(Date.now() + 30_000)));
    const t0 = performance.now();
    await page.keyboard.press("Enter");
    await page.waitForURL(/\/web\/resources$/);
    const t1 = performance.now();
    await page.getByRole("button", { name: `Connect to ${NODE} as root` }).click();
    const t2 = performance.now();
    await waitForTerminal(page, /[#$]\s*$/m, 30_000);
    const t3 = performance.now();
    ui.assertNoConsoleErrors();
    await ui.close();
    // The first run warms the proxy (route caches, first tunnel channel) and is not counted.
    if (i > 0) samples.push({ signIn: t1 - t0, list: t2 - t1, prompt: t3 - t0 });
  }
} finally {
  await browser.close();
  await agent?.stop();
  await d.stop();
  cleanup(d.dataDir, work, agent?.dataDir ?? "");
}

const result = {
  runs: samples.length,
  sign_in_to_prompt_ms: { median: median(samples.map((s) => s.prompt)), min: Math.min(...samples.map((s) => s.prompt)), max: Math.max(...samples.map((s) => s.prompt)) },
  sign_in_ms: median(samples.map((s) => s.signIn)),
  resource_list_and_click_ms: median(samples.map((s) => s.list)),
  first_page_js_gzip_bytes: size.total,
  first_page_js_files: size.files,
  budget_bytes: BUDGET_BYTES,
  ratio_to_budget: size.total / BUDGET_BYTES,
};
if (json) console.log(JSON.stringify(result, null, 2));
else {
  const ms = (x: number) => `${Math.round(x)} ms`;
  console.log(
    `sign-in to first prompt in the web terminal: median ${ms(result.sign_in_to_prompt_ms.median)} over ${result.runs} runs (min ${ms(result.sign_in_to_prompt_ms.min)}, max ${ms(result.sign_in_to_prompt_ms.max)})`,
  );
  console.log(`  of which sign-in until the resource list: ${ms(result.sign_in_ms)}; resources loaded until Connect clicked: ${ms(result.resource_list_and_click_ms)}`);
  console.log(`first page JavaScript, gzipped: ${(size.total / 1024).toFixed(1)} KB (${size.files.map((f) => f.file.replace("assets/", "")).join(", ")})`);
  console.log(`ratio to the 500 KB budget: ${result.ratio_to_budget.toFixed(3)} (goal <= 1: ${result.ratio_to_budget <= 1 ? "met" : "not met"})`);
}
