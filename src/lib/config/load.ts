/**
 * The daemon's effective configuration: the file (if any) with `jumpgate
 * start` flags laid over it, validated once.
 */
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute } from "node:path";
import { ConfigError, type ConfigPath, formatPath, readConfigYaml, validateConfig } from "./parse.ts";
import { type JumpgateConfig, SERVICE_SECTIONS, type ServiceRole, type ServiceSection } from "./schema.ts";

/** `jumpgate start` flags, named as commander hands them over (camelCase). */
export interface StartFlags {
  dataDir?: string;
  /** "auth,proxy,node" or a list. */
  roles?: string | readonly string[];
  clusterName?: string;
  /** The proxy's public port. */
  listen?: string;
  /** The Auth API's address. */
  authListen?: string;
  publicAddr?: string;
  /** A join token, or the absolute path of a file holding one. */
  token?: string;
  proxy?: string;
  authServer?: string;
  insecure?: boolean;
  /** "k=v,k2=v2" for this host's SSH service. */
  labels?: string;
  diagAddr?: string;
  debug?: boolean;
}

export interface LoadConfigOptions {
  /** Config file path; absent: flags and defaults only. */
  file?: string;
  flags?: StartFlags;
}

/** The flag that sets each field, for messages about fields no file mentions. */
const FLAG_FOR_PATH: Record<string, string> = {
  "jumpgate.data_dir": "--data-dir",
  "jumpgate.proxy_server": "--proxy",
  "jumpgate.auth_server": "--auth-server",
  "jumpgate.join_params": "--token",
  "jumpgate.diag_addr": "--diag-addr",
  "auth_service.cluster_name": "--cluster-name",
  "auth_service.listen_addr": "--auth-listen",
  "proxy_service.listen_addr": "--listen",
  "ssh_service.labels": "--labels",
};

/** With neither a file nor --roles, `jumpgate start` is the single-process demo. */
export const DEMO_ROLES: readonly ServiceRole[] = ["auth", "proxy", "node"];

type Raw = Record<string, unknown>;

function isObject(v: unknown): v is Raw {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function section(raw: Raw, name: string): Raw {
  const cur = raw[name];
  if (isObject(cur)) return cur;
  const fresh: Raw = {};
  raw[name] = fresh;
  return fresh;
}

function isEnabled(raw: Raw, name: ServiceSection): boolean {
  const s = raw[name];
  if (!isObject(s)) return false;
  const e = s.enabled;
  if (e === undefined) return true;
  if (typeof e === "boolean") return e;
  return !["no", "false", "off", "0", "n"].includes(String(e).trim().toLowerCase());
}

export function parseRoles(roles: string | readonly string[]): ServiceRole[] {
  const list = (typeof roles === "string" ? roles.split(",") : roles).map((r) => r.trim().toLowerCase()).filter(Boolean);
  const known = Object.keys(SERVICE_SECTIONS);
  const out: ServiceRole[] = [];
  for (const r of list) {
    const role = r === "ssh" ? "node" : r === "database" ? "db" : r === "kubernetes" ? "kube" : r;
    if (!known.includes(role)) {
      throw new ConfigError([{ where: "--roles", path: "", message: `unknown role "${r}"; use ${known.join(", ")}` }]);
    }
    if (!out.includes(role as ServiceRole)) out.push(role as ServiceRole);
  }
  if (out.length === 0) throw new ConfigError([{ where: "--roles", path: "", message: "no roles given" }]);
  return out;
}

/** "env=prod,team=db" → {env: "prod", team: "db"}. */
export function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(",")) {
    if (part.trim() === "") continue;
    const i = part.indexOf("=");
    const k = i < 0 ? "" : part.slice(0, i).trim();
    if (k === "") throw new ConfigError([{ where: "--labels", path: "", message: `expected k=v,... (got "${part}")` }]);
    out[k] = part.slice(i + 1).trim();
  }
  return out;
}

function readToken(token: string): string {
  if (isAbsolute(token) && existsSync(token)) return readFileSync(token, "utf8").trim();
  return token;
}

/** Lays flags over the raw file object, remembering which paths each flag set. */
function applyFlags(raw: Raw, flags: StartFlags, hasFile: boolean, setBy: Map<string, string>): void {
  const roles = flags.roles !== undefined ? parseRoles(flags.roles) : hasFile ? undefined : DEMO_ROLES;
  const sectionRoles = new Map<string, ServiceRole>((Object.entries(SERVICE_SECTIONS) as [ServiceRole, ServiceSection][]).map(([r, s]) => [s, r]));
  const set = (path: readonly string[], value: unknown, flag: string) => {
    const [first] = path;
    const role = first === undefined ? undefined : sectionRoles.get(first);
    // A service section that only a flag mentions stays off unless --roles (or the demo) turns it on.
    if (first !== undefined && role !== undefined && !isObject(raw[first])) {
      raw[first] = { enabled: roles?.includes(role) ?? false };
    }
    let obj = raw;
    for (const p of path.slice(0, -1)) obj = section(obj, p);
    const last = path.at(-1);
    if (last === undefined) return;
    obj[last] = value;
    setBy.set(formatPath(path), flag);
  };

  if (roles !== undefined) {
    for (const [role, name] of Object.entries(SERVICE_SECTIONS) as [ServiceRole, ServiceSection][]) {
      const on = roles.includes(role);
      if (on || isObject(raw[name])) set([name, "enabled"], on, "--roles");
    }
  }
  if (flags.dataDir !== undefined) set(["jumpgate", "data_dir"], flags.dataDir, "--data-dir");
  if (flags.clusterName !== undefined) set(["auth_service", "cluster_name"], flags.clusterName, "--cluster-name");
  if (flags.listen !== undefined) set(["proxy_service", "listen_addr"], flags.listen, "--listen");
  if (flags.authListen !== undefined) set(["auth_service", "listen_addr"], flags.authListen, "--auth-listen");
  if (flags.publicAddr !== undefined) {
    // The address people reach this process at: the proxy's if it runs here, else the SSH node's.
    if (isEnabled(raw, "proxy_service")) set(["proxy_service", "public_addr"], [flags.publicAddr], "--public-addr");
    else if (isEnabled(raw, "ssh_service")) set(["ssh_service", "public_addr"], [flags.publicAddr], "--public-addr");
    else set(["auth_service", "public_addrs"], [flags.publicAddr], "--public-addr");
  }
  if (flags.token !== undefined) set(["jumpgate", "join_params", "token_name"], readToken(flags.token), "--token");
  if (flags.proxy !== undefined && flags.authServer !== undefined) {
    throw new ConfigError([{ where: "--proxy", path: "", message: "use --proxy or --auth-server, not both" }]);
  }
  if (flags.proxy !== undefined) {
    delete section(raw, "jumpgate").auth_server;
    set(["jumpgate", "proxy_server"], flags.proxy, "--proxy");
  }
  if (flags.authServer !== undefined) {
    delete section(raw, "jumpgate").proxy_server;
    set(["jumpgate", "auth_server"], flags.authServer, "--auth-server");
  }
  if (flags.insecure !== undefined) set(["jumpgate", "insecure"], flags.insecure, "--insecure");
  if (flags.labels !== undefined) {
    const ssh = raw.ssh_service;
    const fileLabels = isObject(ssh) && isObject(ssh.labels) ? ssh.labels : {};
    set(["ssh_service", "labels"], { ...fileLabels, ...parseLabels(flags.labels) }, "--labels");
  }
  if (flags.diagAddr !== undefined) set(["jumpgate", "diag_addr"], flags.diagAddr, "--diag-addr");
  if (flags.debug === true) set(["jumpgate", "log", "severity"], "DEBUG", "--debug");
}

/** Reads the file (if given), applies the flags and validates the result. */
export function loadConfig(opts: LoadConfigOptions = {}): JumpgateConfig {
  let text = "";
  const filename = opts.file ?? "(flags)";
  if (opts.file !== undefined) {
    try {
      text = readFileSync(opts.file, "utf8");
    } catch (e) {
      const why = e instanceof Error && "code" in e ? String(e.code) : "unreadable";
      throw new ConfigError([{ where: opts.file, path: "", message: `cannot read the config file (${why})` }]);
    }
  }
  const src = readConfigYaml(text, filename);
  const setBy = new Map<string, string>();
  applyFlags(src.raw, opts.flags ?? {}, opts.file !== undefined, setBy);
  return validateConfig(src.raw, (path: ConfigPath) => {
    for (let n = path.length; n > 0; n--) {
      const key = formatPath(path.slice(0, n));
      const flag = setBy.get(key) ?? (opts.file === undefined ? FLAG_FOR_PATH[key] : undefined);
      if (flag !== undefined) return flag;
    }
    return opts.file === undefined ? "flags" : `${src.filename}:${src.lineOf(path)}`;
  });
}

/** The roles whose sections are enabled, in `--roles` order. */
export function enabledRoles(config: JumpgateConfig): ServiceRole[] {
  return (Object.entries(SERVICE_SECTIONS) as [ServiceRole, ServiceSection][]).filter(([, name]) => config[name].enabled).map(([role]) => role);
}
