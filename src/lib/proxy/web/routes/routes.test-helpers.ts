/**
 * For the data-route tests: a real Auth API (memory backend, mTLS on
 * loopback), the proxy's own client, clients for users with given roles, and
 * an HTTP server on 127.0.0.1:0 that mounts `dataRoutes` behind a stand-in for
 * the session layer (the real one resolves the cookie; here a header names the
 * signed-in user).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import type { AuthClient } from "../../../../api/authclient.ts";
import { httpStatus, toJumpgateError } from "../../../../api/errors.ts";
import { validateResource } from "../../../auth/index.ts";
import { startTestApi } from "../../../auth/testing/api.ts";
import { authFixture } from "../../../auth/testing/fixture.ts";
import type { AuthedRoute, WebRouteDeps } from "../context.ts";
import { sendJson } from "../http.ts";
import { dataRoutes, errorPosition } from "./index.ts";

export const PUBLIC_ADDR = "proxy.unit.test:3080";

/** Test-only: response bodies are asserted field by field, so they are left loosely typed. */
// biome-ignore lint/suspicious/noExplicitAny: test helper, see above
export type Json = any;

export async function routesFixture() {
  // Real TLS checks certificate validity against real time, so the fixture's clock starts now.
  const f = await authFixture({ secondFactor: "off", publicProxyAddr: PUBLIC_ADDR }, new Date());
  const api = await startTestApi(f.server);
  const proxy = await api.asHost("proxy", "proxy-host");
  const deps: WebRouteDeps = { auth: proxy, log: pino({ level: "silent" }), publicAddr: PUBLIC_ADDR };
  const routes = dataRoutes(deps);
  const clients = new Map<string, AuthClient>();

  const server: Server = createServer((req, res) => {
    void (async () => {
      try {
        const url = new URL(req.url ?? "/", "http://127.0.0.1");
        const match = findRoute(routes, req.method ?? "GET", url.pathname);
        const name = String(req.headers["x-test-user"] ?? "");
        const client = clients.get(name);
        if (!match || !client) return sendJson(res, 404, { error: { kind: "not-found", message: "no such route or user" } });
        const user = { user: name, roles: [], sessionId: "test", client, ssh: { cert: "", privateKey: "" } };
        await match.route.handler(req, res, { user, params: match.params, url });
      } catch (e) {
        // What the session layer's error sender does, plus the YAML position.
        const j = toJumpgateError(e);
        if (res.headersSent) return void res.destroy();
        sendJson(res, httpStatus[j.kind], { error: { kind: j.kind, message: j.message, ...errorPosition(e) } });
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  /** Creates a user (invite completed) and a client acting as him. */
  async function addUser(name: string, roles: string[], traits: Record<string, string[]> = {}): Promise<AuthClient> {
    await f.addUser(name, roles, traits);
    const c = await api.asUser(name);
    clients.set(name, c);
    return c;
  }

  async function addRole(doc: Record<string, unknown>): Promise<void> {
    await f.ctx.stores.roles.create(validateResource({ kind: "role", version: "v7", ...doc }));
  }

  /** Calls the web API as `user`; JSON in, parsed JSON (or text) out. */
  async function call(user: string, method: string, path: string, body?: unknown) {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { "x-test-user": user, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = text === "" ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json: json as Json };
  }

  return {
    f,
    api,
    deps,
    addUser,
    addRole,
    call,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await api.close();
      await f.close();
    },
  };
}

function findRoute(routes: AuthedRoute[], method: string, path: string) {
  for (const route of routes) {
    if (route.method !== method) continue;
    const m = route.path.exec(path);
    if (m) return { route, params: m.slice(1).map((s) => s ?? "") };
  }
  return undefined;
}
