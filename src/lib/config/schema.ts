/**
 * The daemon's config file (DESIGN §9), declared once: the TypeScript type,
 * the defaults and the validation messages all come from these schemas.
 * Every object is strict, so a misspelt field is an error, not a silent no-op.
 */
import os from "node:os";
import { z } from "zod";
import { appSchema } from "../../api/resources/index.ts";
import { cidrOrIp, commandLabel, duration, flag, hostPort, labels, listOf, resourceMatcher, resourceName, staticToken, uniqueNames } from "./fields.ts";

export { TOKEN_ROLES } from "./fields.ts";

const jumpgateSection = z
  .strictObject({
    nodename: z
      .string()
      .min(1)
      .default(() => os.hostname()),
    data_dir: z.string().min(1).default("/var/lib/jumpgate"),
    join_params: z
      .strictObject({
        token_name: z.string().min(1, "required"),
        method: z.enum(["token"]).default("token"),
      })
      .optional(),
    /** Agents: the proxy to dial (reverse tunnel). */
    proxy_server: hostPort(3080).optional(),
    /** Agents next to Auth: the Auth API address. */
    auth_server: hostPort(3025).optional(),
    /** Expected CA fingerprints ("sha256:…") when joining for the first time. */
    ca_pin: listOf(z.string()).default([]),
    /** Skip verifying the proxy's TLS certificate when joining (tests, demos). */
    insecure: flag.default(false),
    log: z
      .strictObject({
        severity: z
          .preprocess((v) => (typeof v === "string" ? v.toUpperCase().replace(/^WARNING$/, "WARN") : v), z.enum(["DEBUG", "INFO", "WARN", "ERROR"]))
          .default("INFO"),
        format: z.enum(["json", "text"]).default("json"),
        /** "stderr", "stdout" or a file path. */
        output: z.string().min(1).default("stderr"),
      })
      .prefault({}),
    diag_addr: hostPort().optional(),
  })
  .superRefine((j, ctx) => {
    if (j.proxy_server !== undefined && j.auth_server !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["auth_server"],
        message: "set proxy_server or auth_server, not both",
      });
    }
  });

const authService = z.strictObject({
  enabled: flag.default(true),
  cluster_name: resourceName.default(() => defaultClusterName()),
  listen_addr: hostPort().prefault("127.0.0.1:3025"),
  public_addrs: listOf(hostPort(3025)).default([]),
  authentication: z
    .strictObject({
      type: z.enum(["local"]).default("local"),
      second_factor: z.preprocess((v) => (v === true ? "on" : v === false ? "off" : v), z.enum(["off", "otp", "webauthn", "on"])).default("otp"),
      webauthn: z.strictObject({ rp_id: z.string().min(1) }).optional(),
      lockout: z
        .strictObject({
          max_attempts: z.int().min(1).max(1000).default(5),
          lockout_duration: duration.prefault("20m"),
        })
        .prefault({}),
    })
    .prefault({}),
  storage: z
    .strictObject({
      type: z.preprocess((v) => (v === "postgresql" ? "postgres" : v), z.enum(["sqlite", "postgres", "memory"])).default("sqlite"),
      /** SQLite file; default `<data_dir>/backend.db`. */
      path: z.string().min(1).optional(),
      conn_string: z.string().min(1).optional(),
      /** Where audit events go: sqlite://, postgres://, memory://, jsonl://PATH. */
      audit_events_uri: listOf(z.string().min(1)).default([]),
      /** Where session recordings go (a directory, or an s3:// URI). */
      audit_sessions_uri: z.string().min(1).optional(),
    })
    .superRefine((s, ctx) => {
      if (s.type === "postgres" && s.conn_string === undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["conn_string"],
          message: "required when type is postgres",
        });
      }
    })
    .prefault({}),
  /** Static join tokens, "roles:token". */
  tokens: z.array(staticToken).default([]),
  session_recording: z.enum(["node", "proxy", "off"]).default("node"),
});

const proxyService = z.strictObject({
  enabled: flag.default(true),
  listen_addr: hostPort().prefault("0.0.0.0:3080"),
  public_addr: listOf(hostPort(3080)).default([]),
  https_keypairs: z
    .array(
      z.strictObject({
        key_file: z.string().min(1),
        cert_file: z.string().min(1),
      }),
    )
    .default([]),
  /** Load balancers that must send a PROXY protocol header: IPs or CIDR ranges, IPv4 or IPv6. */
  trusted_proxy_protocol_addrs: listOf(cidrOrIp).default([]),
  /** Web sessions end after this long without a request; default 30m. */
  web_idle_timeout: duration.optional(),
});

const sshService = z.strictObject({
  enabled: flag.default(true),
  /** Absent: reachable only through the proxy's reverse tunnel. */
  listen_addr: hostPort().optional(),
  public_addr: listOf(hostPort(3022)).default([]),
  labels: labels.default({}),
  commands: z.array(commandLabel).default([]).superRefine(uniqueNames("command label")),
});

const database = z.strictObject({
  name: resourceName,
  description: z.string().optional(),
  protocol: z.enum(["postgres", "mysql"]),
  uri: hostPort(),
  static_labels: labels.default({}),
  dynamic_labels: z.array(commandLabel).default([]),
  tls: z
    .strictObject({
      mode: z.enum(["verify-full", "verify-ca", "insecure"]).default("verify-full"),
      ca_cert_file: z.string().min(1).optional(),
      server_name: z.string().min(1).optional(),
    })
    .optional(),
  /** For servers that do not take certificates from the db CA: a user and a file holding its password. */
  credentials: z
    .strictObject({
      username: z.string().min(1),
      password_file: z.string().min(1),
    })
    .optional(),
});

const dbService = z.strictObject({
  enabled: flag.default(true),
  databases: z.array(database).default([]).superRefine(uniqueNames("database")),
  resources: z.array(resourceMatcher).default([]),
});

/** A configured app as the `app` resource it becomes (checked by the one app schema). */
function appDocument(a: {
  name: string;
  description?: string | undefined;
  uri: string;
  public_addr?: string | undefined;
  labels: Record<string, string>;
  insecure_skip_verify: boolean;
  rewrite?: { headers: { name: string; value: string }[]; redirect: string[] } | undefined;
}) {
  return {
    kind: "app",
    version: "v3",
    metadata: { name: a.name, labels: a.labels, ...(a.description !== undefined ? { description: a.description } : {}) },
    spec: {
      uri: a.uri,
      ...(a.public_addr !== undefined ? { public_addr: a.public_addr } : {}),
      insecure_skip_verify: a.insecure_skip_verify,
      ...(a.rewrite ? { rewrite: a.rewrite } : {}),
    },
  };
}

/** Where a problem in the app resource is in the config entry: metadata.name → name, spec.uri → uri. */
function configPathOf(path: readonly PropertyKey[]): PropertyKey[] {
  const [head, ...rest] = path;
  if (head === "spec") return rest;
  if (head === "metadata") return rest;
  return [];
}

const app = z
  .strictObject({
    name: z.string({ error: "expected an app name" }),
    description: z.string().optional(),
    uri: z.string({ error: "expected an http://, https:// or tcp://HOST:PORT URI" }),
    public_addr: z.string().min(1).optional(),
    /** Static labels. */
    labels: labels.default({}),
    /** Labels computed by running a command every period (as db_service's). */
    dynamic_labels: z.array(commandLabel).default([]),
    /** The same, named as ssh_service names them; both lists are used. */
    commands: z.array(commandLabel).default([]),
    insecure_skip_verify: flag.default(false),
    rewrite: z
      .strictObject({
        /** Set on every request; values may use trait templates ({{internal.logins}}, {{external.groups}}). */
        headers: z.array(z.strictObject({ name: z.string().min(1), value: z.string() })).default([]),
        /** Hosts whose redirects go back to the app's public address. */
        redirect: z.array(z.string().min(1)).default([]),
      })
      .optional(),
  })
  .superRefine((a, ctx) => {
    const r = appSchema.safeParse(appDocument(a));
    if (!r.success) {
      for (const issue of r.error.issues) ctx.addIssue({ code: "custom", path: configPathOf(issue.path), message: issue.message });
    }
    const seen = new Set<string>();
    for (const [field, list] of [
      ["dynamic_labels", a.dynamic_labels],
      ["commands", a.commands],
    ] as const) {
      list.forEach((c, i) => {
        if (seen.has(c.name)) ctx.addIssue({ code: "custom", path: [field, i, "name"], message: `duplicate command label "${c.name}"` });
        seen.add(c.name);
      });
    }
  });

const appService = z.strictObject({
  enabled: flag.default(true),
  apps: z.array(app).default([]).superRefine(uniqueNames("app")),
  resources: z.array(resourceMatcher).default([]),
  /** One `app.session.request` audit event per HTTP request. */
  audit_requests: flag.default(true),
});

const kubernetesService = z.strictObject({
  enabled: flag.default(true),
  kubeconfig_file: z.string().min(1).optional(),
  kube_cluster_name: resourceName.optional(),
  static_labels: labels.default({}),
  dynamic_labels: z.array(commandLabel).default([]),
  resources: z.array(resourceMatcher).default([]),
});

const desktopService = z.strictObject({
  enabled: flag.default(true),
  static_hosts: z
    .array(
      z.strictObject({
        name: resourceName.optional(),
        addr: hostPort(3389),
        labels: labels.default({}),
        ad: flag.default(false),
      }),
    )
    .default([]),
  labels: labels.default({}),
});

/** The whole file. Sections left out are present in the result, disabled. */
export const configSchema = z
  .strictObject({
    version: z.literal("v3", { error: 'unsupported config version; expected "v3"' }).default("v3"),
    jumpgate: jumpgateSection.prefault({}),
    auth_service: authService.prefault({ enabled: false }),
    proxy_service: proxyService.prefault({ enabled: false }),
    ssh_service: sshService.prefault({ enabled: false }),
    db_service: dbService.prefault({ enabled: false }),
    app_service: appService.prefault({ enabled: false }),
    kubernetes_service: kubernetesService.prefault({ enabled: false }),
    windows_desktop_service: desktopService.prefault({ enabled: false }),
  })
  .superRefine((c, ctx) => {
    const services = Object.values(SERVICE_SECTIONS).filter((s) => c[s].enabled);
    if (services.length === 0) {
      ctx.addIssue({
        code: "custom",
        message: "no service is enabled; enable a *_service section or pass --roles",
      });
    } else if (!c.auth_service.enabled && c.jumpgate.proxy_server === undefined && c.jumpgate.auth_server === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["jumpgate", "proxy_server"],
        message: "required (or auth_server) when auth_service is not enabled here",
      });
    }
  });

export type JumpgateConfig = z.output<typeof configSchema>;
export type JumpgateConfigInput = z.input<typeof configSchema>;
export type AuthServiceConfig = JumpgateConfig["auth_service"];
export type ProxyServiceConfig = JumpgateConfig["proxy_service"];
export type SshServiceConfig = JumpgateConfig["ssh_service"];
export type DbServiceConfig = JumpgateConfig["db_service"];
export type DatabaseConfig = DbServiceConfig["databases"][number];
export type AppServiceConfig = JumpgateConfig["app_service"];
export type AppConfig = AppServiceConfig["apps"][number];
export type KubernetesServiceConfig = JumpgateConfig["kubernetes_service"];
export type DesktopServiceConfig = JumpgateConfig["windows_desktop_service"];
export type CommandLabelConfig = SshServiceConfig["commands"][number];
export type StaticToken = AuthServiceConfig["tokens"][number];

/** Section names in the order `--roles` lists them. */
export const SERVICE_SECTIONS = {
  auth: "auth_service",
  proxy: "proxy_service",
  node: "ssh_service",
  db: "db_service",
  app: "app_service",
  kube: "kubernetes_service",
  desktop: "windows_desktop_service",
} as const;

export type ServiceRole = keyof typeof SERVICE_SECTIONS;
export type ServiceSection = (typeof SERVICE_SECTIONS)[ServiceRole];

/** The host's short name as a cluster name, or "jumpgate" when it has none worth using. */
export function defaultClusterName(hostname: string = os.hostname()): string {
  const first = (hostname.split(".")[0] ?? "")
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .replace(/^-+|-+$/g, "");
  return first === "" || first === "localhost" ? "jumpgate" : first.slice(0, 63);
}
