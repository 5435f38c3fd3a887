import { writeFileSync } from "node:fs";
import { Command } from "commander";
import { VERSION } from "../api/constants.ts";
import { configureTemplate, type JumpgateConfig, loadConfig, parseHostPort, type StartFlags } from "../lib/config/index.ts";
import { createLogger, createRegistry, startDiagServer } from "../lib/observability/index.ts";
import { type ProcessOptions, startProcess } from "../lib/service/index.ts";
import { main } from "./run.ts";

const program = new Command("jumpgate").description("The Jumpgate daemon: Auth, Proxy and agent services").version(VERSION).exitOverride();

function processOptions(cfg: JumpgateConfig, log: ProcessOptions["log"], demo: boolean): ProcessOptions {
  const a = cfg.auth_service;
  const p = cfg.proxy_service;
  const hp = (s: string) => {
    const x = parseHostPort(s);
    return { host: x.host, port: x.port };
  };
  const opts: ProcessOptions = {
    dataDir: cfg.jumpgate.data_dir,
    clusterName: a.cluster_name,
    nodeName: cfg.jumpgate.nodename,
    demo,
    log,
  };
  if (a.enabled) {
    const storage = a.storage.type === "postgres" ? { type: "postgres" as const, connString: a.storage.conn_string ?? "" } : { type: a.storage.type };
    opts.auth = {
      listen: hp(a.listen_addr),
      storage,
      auditUris: a.storage.audit_events_uri,
      secondFactor: a.authentication.second_factor,
      lockout: { maxAttempts: a.authentication.lockout.max_attempts, lockoutMs: a.authentication.lockout.lockout_duration },
      staticTokens: a.tokens,
      sessionRecording: a.session_recording,
    };
  }
  const ssh = cfg.ssh_service;
  if (ssh.enabled) {
    opts.node = {
      labels: ssh.labels,
      commands: ssh.commands.map((c) => ({ name: c.name, command: c.command, periodMs: c.period })),
      ...(ssh.listen_addr ? { listen: hp(ssh.listen_addr) } : {}),
      ...(ssh.public_addr[0] ? { publicAddr: ssh.public_addr[0] } : {}),
    };
  }
  const db = cfg.db_service;
  if (db.enabled) {
    opts.db = {
      databases: db.databases.map((d) => ({
        ...d,
        dynamic_labels: d.dynamic_labels.map((c) => ({ name: c.name, command: c.command, periodMs: c.period })),
      })),
      resources: db.resources,
    };
  }
  const app = cfg.app_service;
  if (app.enabled) {
    opts.app = {
      apps: app.apps.map(({ dynamic_labels, commands, ...a }) => ({
        ...a,
        dynamic_labels: [...dynamic_labels, ...commands].map((c) => ({ name: c.name, command: c.command, periodMs: c.period })),
      })),
      resources: app.resources,
      auditRequests: app.audit_requests,
    };
  }
  const kube = cfg.kubernetes_service;
  if (kube.enabled) {
    if (kube.resources.length > 0) log.warn("kubernetes_service.resources is not used yet: this version serves the contexts of kubeconfig_file only");
    opts.kube = {
      kubeconfigFile: kube.kubeconfig_file,
      kubeClusterName: kube.kube_cluster_name,
      staticLabels: kube.static_labels,
      dynamicLabels: kube.dynamic_labels.map((c) => ({ name: c.name, command: c.command, periodMs: c.period })),
    };
  }
  if (!a.enabled && cfg.jumpgate.proxy_server) {
    opts.join = {
      proxyAddr: cfg.jumpgate.proxy_server,
      insecure: cfg.jumpgate.insecure,
      ...(cfg.jumpgate.join_params ? { token: cfg.jumpgate.join_params.token_name } : {}),
    };
  }
  if (p.enabled) {
    const listen = hp(p.listen_addr);
    const publicAddr = p.public_addr[0] ?? `${listen.host === "0.0.0.0" || listen.host === "::" ? "localhost" : listen.host}:${listen.port}`;
    opts.proxy = {
      listen,
      publicAddr,
      httpsKeyPairs: p.https_keypairs,
      trustedProxyProtocolAddrs: p.trusted_proxy_protocol_addrs,
      ...(p.web_idle_timeout ? { webIdleTimeoutMs: p.web_idle_timeout } : {}),
    };
  }
  return opts;
}

program
  .command("start")
  .description("start the services named by the config file or --roles (no config: a complete demo cluster)")
  .option("-c, --config <file>", "config file (default: $JUMPGATE_CONFIG)")
  .option("--data-dir <dir>", "where state is kept")
  .option("--roles <roles>", "services to run: auth,proxy,node,db,app,kube,desktop")
  .option("--cluster-name <name>", "cluster name (first start only)")
  .option("--listen <addr>", "proxy's public HOST:PORT", undefined)
  .option("--auth-listen <addr>", "Auth API HOST:PORT")
  .option("--public-addr <addr>", "address people use to reach the proxy")
  .option("--token <token>", "join token (agents)")
  .option("--proxy <addr>", "proxy to join through (agents)")
  .option("--auth-server <addr>", "Auth Service to join (agents)")
  .option("--insecure", "do not verify the proxy's certificate when joining")
  .option("--labels <labels>", "static labels k=v,k2=v2")
  .option("--diag-addr <addr>", "serve /healthz, /readyz and /metrics here")
  .option("-d, --debug", "debug logs")
  .action(async (flags: StartFlags & { config?: string }) => {
    // Keys, the backend and the audit log are created for this user's eyes only.
    const umask = process.umask(0o077);
    const file = flags.config ?? process.env.JUMPGATE_CONFIG;
    // Without a config file the demo keeps its state under ./data (DESIGN §1).
    const withDir = !file && !flags.dataDir && !flags.roles ? { ...flags, dataDir: "./data" } : flags;
    const cfg = loadConfig({ ...(file ? { file } : {}), flags: withDir });
    const sev = cfg.jumpgate.log.severity.toLowerCase() as "debug" | "info" | "warn" | "error";
    const log = createLogger({
      component: "jumpgate",
      debug: !!flags.debug,
      level: flags.debug ? "debug" : sev,
      format: cfg.jumpgate.log.format,
    });
    const running = await startProcess(processOptions(cfg, log, !file && !flags.roles));
    // Databases and keys exist now; sessions on this host get the usual umask for the files users create.
    process.umask(umask);
    const registry = createRegistry();
    const diag = cfg.jumpgate.diag_addr ? await startDiagServer({ addr: cfg.jumpgate.diag_addr, registry, isReady: () => running.ready() }) : undefined;
    if (diag) log.info({ addr: cfg.jumpgate.diag_addr, port: diag.port }, "diagnostics are listening");
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        log.info({ signal }, "shutting down");
        const force = setTimeout(() => process.exit(1), 15_000);
        force.unref();
        Promise.all([running.close(), diag?.close()])
          .catch((e: unknown) => log.error({ err: e }, "error during shutdown"))
          .finally(() => resolve());
      };
      process.once("SIGTERM", () => stop("SIGTERM"));
      process.once("SIGINT", () => stop("SIGINT"));
    });
  });

program
  .command("configure")
  .description("print a commented example config file")
  .option("-o, --output <file>", "write it to this file instead")
  .action((o: { output?: string }) => {
    const text = configureTemplate();
    if (o.output) writeFileSync(o.output, text, { mode: 0o600 });
    else process.stdout.write(text);
  });

program.command("version").action(() => {
  process.stdout.write(`Jumpgate v${VERSION} node${process.version}\n`);
});

await main(() => program.parseAsync(process.argv).then(() => undefined));
