import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { notFound } from "../../../api/errors.ts";
import type { AuthClient } from "../../../api/authclient.ts";
import { INVITE_JS, invitePage, messagePage } from "./invite-page.ts";
import { num, readJson, sendError, sendHtml, sendJson, str } from "./http.ts";

export interface WebDeps {
  auth: AuthClient;
  log: Logger;
  publicAddr: string;
}

type Route = (req: IncomingMessage, res: ServerResponse, params: string[]) => Promise<void>;

const TOKEN = "([0-9a-f]{1,128})";

/**
 * The proxy's web API (JSON over HTTPS) and the pages served before the web UI
 * exists. Each route is small: it validates input and calls the Auth API with
 * the proxy's own identity.
 */
export function createWebHandler(deps: WebDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { auth } = deps;
  const clientAddr = (req: IncomingMessage) => `${req.socket.remoteAddress ?? "?"}:${req.socket.remotePort ?? 0}`;

  const routes: [string, RegExp, Route][] = [
    [
      "GET",
      /^\/webapi\/ping$/,
      async (_req, res) => {
        const p = await auth.ping({});
        sendJson(res, 200, {
          cluster_name: p.clusterName,
          server_version: p.serverVersion,
          auth: { second_factor: p.secondFactor, type: "local" },
          proxy: { public_addr: deps.publicAddr },
        });
      },
    ],
    [
      "POST",
      /^\/webapi\/login$/,
      async (req, res) => {
        const b = await readJson(req);
        const c = await auth.authenticateUser({
          user: str(b, "user"),
          password: str(b, "password"),
          otp: str(b, "otp", false),
          sshPublicKey: str(b, "ssh_public_key"),
          tlsPublicKey: str(b, "tls_public_key"),
          ttlSeconds: BigInt(Math.floor(num(b, "ttl_seconds") ?? 0)),
          clientAddr: clientAddr(req),
        });
        sendJson(res, 200, {
          username: c.username,
          cluster_name: c.clusterName,
          ssh_cert: c.sshCert,
          tls_cert: c.tlsCert,
          tls_ca_certs: c.tlsCaCerts,
          host_ca_certs: c.hostCaCerts,
          ssh_ca_keys: c.sshCaKeys,
          roles: c.roles,
          logins: c.logins,
          expires: c.expires,
        });
      },
    ],
    [
      "GET",
      new RegExp(`^/webapi/invites/${TOKEN}$`),
      async (_req, res, [token]) => {
        const i = await auth.getInvite({ token: token ?? "" });
        sendJson(res, 200, {
          user: i.user,
          expires: i.expires,
          second_factor: i.secondFactor,
          totp_secret: i.totpSecret,
          totp_url: i.totpUrl,
          totp_qr_svg: i.totpQrSvg,
        });
      },
    ],
    [
      "POST",
      new RegExp(`^/webapi/invites/${TOKEN}$`),
      async (req, res, [token]) => {
        const b = await readJson(req);
        const r = await auth.completeInvite({
          token: token ?? "",
          password: str(b, "password"),
          totpCode: str(b, "totp_code", false),
        });
        sendJson(res, 200, { user: r.user });
      },
    ],
    [
      "POST",
      /^\/webapi\/host\/join$/,
      async (req, res) => {
        const b = await readJson(req);
        const dns = Array.isArray(b.dns_names) ? b.dns_names.filter((x): x is string => typeof x === "string") : [];
        const c = await auth.registerUsingToken({
          token: str(b, "token"),
          hostId: str(b, "host_id"),
          nodeName: str(b, "node_name", false),
          role: str(b, "role"),
          dnsNames: dns,
          principals: dns,
          sshPublicKey: str(b, "ssh_public_key"),
          tlsPublicKey: str(b, "tls_public_key"),
          remoteAddr: clientAddr(req),
        });
        sendJson(res, 200, {
          ssh_cert: c.sshCert,
          tls_cert: c.tlsCert,
          tls_ca_certs: c.tlsCaCerts,
          ssh_ca_keys: c.sshCaKeys,
          cluster_name: c.clusterName,
          host_id: c.hostId,
        });
      },
    ],
    [
      "GET",
      new RegExp(`^/web/invite/${TOKEN}$`),
      async (_req, res, [token]) => {
        try {
          const [i, p] = await Promise.all([auth.getInvite({ token: token ?? "" }), auth.ping({})]);
          sendHtml(
            res,
            200,
            invitePage({
              token: token ?? "",
              user: i.user,
              cluster: p.clusterName,
              expires: i.expires,
              totpSecret: i.totpSecret,
              totpQrSvg: i.totpQrSvg,
            }),
          );
        } catch (e) {
          const j = sendErrorPage(res, e);
          deps.log.debug({ kind: j }, "invite page refused");
        }
      },
    ],
    [
      "GET",
      /^\/web\/assets\/invite\.js$/,
      async (_req, res) => {
        res.writeHead(200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-cache" });
        res.end(INVITE_JS);
      },
    ],
    [
      "GET",
      /^\/(web\/?)?$/,
      async (_req, res) => {
        sendHtml(res, 200, messagePage("Jumpgate", "Log in with: jsh login --proxy=" + deps.publicAddr));
      },
    ],
  ];

  return (req, res) => {
    const url = new URL(req.url ?? "/", "https://proxy");
    const path = url.pathname;
    const run = async () => {
      for (const [method, re, fn] of routes) {
        const m = re.exec(path);
        if (m && req.method === method) return fn(req, res, m.slice(1));
      }
      throw notFound(`no such page: ${req.method} ${path}`);
    };
    run().catch((e: unknown) => {
      const j = sendError(res, e);
      if (j.kind === "internal") deps.log.error({ err: e, path }, "web API error");
    });
  };
}

function sendErrorPage(res: ServerResponse, e: unknown): string {
  const j = e instanceof Error && "kind" in e ? (e as { kind: string; message: string }) : undefined;
  const message = j?.message ?? "Something went wrong.";
  sendHtml(res, j?.kind === "not-found" ? 404 : 400, messagePage("This link cannot be used", message));
  return j?.kind ?? "internal";
}
