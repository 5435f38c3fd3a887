import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { AuthClient } from "../../../api/authclient.ts";
import { num, readJson, sendHtml, sendJson, str } from "./http.ts";
import { INVITE_JS, invitePage, messagePage } from "./invite-page.ts";
import { JWKS_PATH, jwksRoute } from "./jwks.ts";

export interface PublicDeps {
  auth: AuthClient;
  log: Logger;
  publicAddr: string;
}

export type Route = (req: IncomingMessage, res: ServerResponse, params: string[]) => Promise<void>;
export type PublicRoute = [method: string, path: RegExp, handler: Route];

const TOKEN = "([0-9a-f]{1,128})";

export const clientAddr = (req: IncomingMessage) => `${req.socket.remoteAddress ?? "?"}:${req.socket.remotePort ?? 0}`;

/**
 * Routes without a web session: ping, `jsh login`, invites, agents joining,
 * and the JWKS apps verify `jumpgate-jwt-assertion` with.
 * Each validates input and calls the Auth API with the proxy's own identity.
 */
export function publicRoutes(deps: PublicDeps): PublicRoute[] {
  const { auth } = deps;
  return [
    ["GET", new RegExp(`^${JWKS_PATH.replace(/\./g, "\\.")}$`), jwksRoute(auth)],
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
  ];
}

/**
 * The server-rendered pages used while no built UI (web/dist) is installed:
 * the invite page and a plain message at `/` and `/web/*`.
 */
export function fallbackPages(deps: PublicDeps): PublicRoute[] {
  const { auth } = deps;
  return [
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
      /^\/(web(\/.*)?)?$/,
      async (_req, res) => {
        sendHtml(res, 200, messagePage("Jumpgate", `The web UI is not built on this proxy. Log in with: jsh login --proxy=${deps.publicAddr}`));
      },
    ],
  ];
}

function sendErrorPage(res: ServerResponse, e: unknown): string {
  const j = e instanceof Error && "kind" in e ? (e as { kind: string; message: string }) : undefined;
  const message = j?.message ?? "Something went wrong.";
  sendHtml(res, j?.kind === "not-found" ? 404 : 400, messagePage("This link cannot be used", message));
  return j?.kind ?? "internal";
}
