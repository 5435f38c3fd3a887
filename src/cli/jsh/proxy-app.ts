/**
 * `jsh proxy app NAME [--port N]`: a local listener on 127.0.0.1 so unmodified
 * clients (curl, a browser, any TCP client) reach an app through the proxy.
 * The work is in lib/client/appproxy.ts.
 */
import type { Command } from "commander";
import {
  type AppCert,
  appLogin,
  currentProfile,
  findAppCert,
  type Profile,
  type RouteCredentials,
  startLocalAppProxy,
  userAuthClient,
} from "../../lib/client/index.ts";
import { parsePort } from "./apps.ts";

/** A saved certificate closer than this to expiry is replaced by a new login. */
const RENEW_BEFORE_MS = 30_000;

/**
 * The app certificate for each new connection: the saved one while it is
 * valid, else a new login (one at a time, shared by the connections waiting).
 */
export function appCredentialSource(saved: AppCert | undefined, login: () => Promise<AppCert>, now: () => number = Date.now): () => Promise<RouteCredentials> {
  let current = saved;
  let pending: Promise<AppCert> | undefined;
  return async () => {
    if (!current || current.expires.getTime() - RENEW_BEFORE_MS <= now()) {
      pending ??= login().finally(() => {
        pending = undefined;
      });
      current = await pending;
    }
    return { cert: current.cert, key: current.key, hostCas: current.cas };
  };
}

/** What to print once the listener is up. */
export function proxyAppBanner(name: string, port: number): string[] {
  const addr = `127.0.0.1:${port}`;
  return [
    `Proxying connections to ${name} on ${addr}`,
    "",
    `An HTTP app:  curl http://${addr}/  (or open it in a browser)`,
    `A TCP app:    point its client at ${addr}`,
    "",
    "Press Ctrl+C to stop.",
  ];
}

export async function proxyApp(proxy: string | undefined, name: string, o: { port?: string }, print: (s: string) => void): Promise<void> {
  const p: Profile = currentProfile(proxy);
  const login = async () => {
    const auth = userAuthClient(p);
    try {
      return await appLogin(auth, p, { name });
    } finally {
      auth.close();
    }
  };
  const credentials = appCredentialSource(findAppCert(p, name), login);
  // Log in (if needed) before listening, so a refusal is the command's error, not the first connection's.
  await credentials();
  const local = await startLocalAppProxy({
    profile: p,
    app: name,
    port: parsePort(o.port, 0),
    credentials,
    onError: (e) => process.stderr.write(`ERROR: ${e.message}\n`),
  });
  for (const l of proxyAppBanner(name, local.port)) print(l);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      void local.close().then(resolve);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

/** Adds `app` under `jsh proxy`. */
export function registerProxyApp(program: Command, proxy: () => string | undefined, print: (s: string) => void): void {
  const parent = program.commands.find((c) => c.name() === "proxy") ?? program.command("proxy").description("local helpers for unmodified clients");
  parent
    .command("app <name>")
    .description("a local listener for an app's clients (curl, a browser, any TCP client); logs in to the app if needed")
    .option("--port <port>", "local port (default: any free port)")
    .action(async (name: string, o: { port?: string }) => {
      await proxyApp(proxy(), name, o, print);
    });
}
