import { readFileSync } from "node:fs";
import { Command, Option } from "commander";
import { VERSION } from "../api/constants.ts";
import { badParameter } from "../api/errors.ts";
import { parseDuration } from "../api/resources/index.ts";
import {
  ask,
  currentProfile,
  type Format,
  formatDate,
  kubeLogout,
  loadCredentials,
  login,
  parseFormat,
  ping,
  removeAppCerts,
  removeDbCerts,
  removeProfile,
  render,
  userAuthClient,
} from "../lib/client/index.ts";
import { decodeIdentity } from "../lib/crypto/index.ts";
import { APP_CONFIG_FORMATS, registerAppsCommands } from "./jsh/apps.ts";
import { registerDbCommands } from "./jsh/db.ts";
import { registerKubeCommands } from "./jsh/kube.ts";
import { listNodes, parseSelector, renderNodes } from "./jsh/nodes.ts";
import { proxySsh, scp, sshConfig } from "./jsh/openssh.ts";
import { registerProxyApp } from "./jsh/proxy-app.ts";
import { registerProxyDb } from "./jsh/proxy-db.ts";
import { playRecording, recordingsLs } from "./jsh/recordings.ts";
import { type JoinMode, jshJoin, listSessions, renderSessions } from "./jsh/sessions.ts";
import { jshSsh, type SshFlags } from "./jsh/ssh.ts";
import { main } from "./run.ts";

const program = new Command("jsh")
  .description("Reach SSH servers, databases, apps and Kubernetes through a Jumpgate proxy")
  .version(VERSION)
  .option("--proxy <addr>", "proxy address HOST:PORT")
  .option("--user <name>", "user name")
  .option("--insecure", "do not verify the proxy's certificate (self-signed demo proxies)")
  // text, json or yaml; `jsh apps config` also takes uri, ca, cert, key and curl.
  .addOption(new Option("--format <format>", "output format: text, json or yaml").choices([...APP_CONFIG_FORMATS]).default("text"))
  .option("-d, --debug", "print more on errors")
  .exitOverride();

const collect = (v: string, prev: string[]) => [...prev, v];
const print = (s: string): void => {
  process.stdout.write(`${s}\n`);
};
const globals = () => program.opts<{ proxy?: string; user?: string; insecure?: boolean; format: string }>();

program
  .command("login")
  .description("log in and save short-lived certificates")
  .option("--ttl <duration>", "certificate lifetime (capped by your roles)")
  .option("--password-file <file>", "read the password from this file")
  .option("--otp <code>", "one-time code from your authenticator app")
  .action(async (o: { ttl?: string; passwordFile?: string; otp?: string }) => {
    const g = globals();
    let proxy = g.proxy;
    let user = g.user;
    let insecure = !!g.insecure;
    if (!proxy) {
      try {
        const p = currentProfile();
        proxy = p.proxy;
        user ??= p.user;
        insecure ||= p.insecure;
      } catch {
        throw badParameter("name the proxy: jsh login --proxy=HOST:PORT --user=NAME");
      }
    }
    if (!user) throw badParameter("name the user: jsh login --user=NAME");
    const info = await ping(proxy, insecure);
    const password =
      process.env.JSH_PASSWORD ??
      (o.passwordFile ? readFileSync(o.passwordFile, "utf8").replace(/\r?\n$/, "") : await ask(`Enter password for Jumpgate user ${user}: `, true));
    const sf = info.auth.second_factor;
    const otp = o.otp ?? (sf === "otp" || sf === "on" ? await ask("Enter your OTP token: ", false) : "");
    const { ttl } = o;
    const ttlSeconds = ttl ? Math.round(parseDuration(ttl) / 1000) : undefined;
    await login({ proxy, user, password, otp: otp.trim(), insecure, ...(ttlSeconds ? { ttlSeconds } : {}) });
    print(statusText(parseFormat(g.format), proxy));
  });

function statusText(format: Format, proxy?: string): string {
  const p = currentProfile(proxy);
  const c = loadCredentials(p);
  const id = decodeIdentity(c.tlsCert);
  const valid = id.expires.getTime() > Date.now();
  const data = {
    proxy: p.proxy,
    user: id.username,
    cluster: id.clusterName,
    roles: id.roles,
    logins: id.logins,
    traits: id.traits,
    valid_until: id.expires.toISOString(),
    expired: !valid,
  };
  return render(data, format, () =>
    [
      `> Profile URL:        https://${p.proxy}`,
      `  Logged in as:       ${id.username}`,
      `  Cluster:            ${id.clusterName}`,
      `  Roles:              ${id.roles.join(", ")}`,
      `  Logins:             ${id.logins.join(", ")}`,
      `  Valid until:        ${formatDate(id.expires)} [${valid ? `valid for ${remaining(id.expires)}` : "EXPIRED"}]`,
    ].join("\n"),
  );
}

function remaining(d: Date): string {
  const s = Math.max(0, Math.round((d.getTime() - Date.now()) / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${m}m` : `${m}m`;
}

program
  .command("status")
  .description("who you are logged in as, with which roles and logins, until when")
  .action(() => print(statusText(parseFormat(globals().format), globals().proxy)));

program
  .command("ls [selectors...]")
  .description("list the SSH nodes you can reach, optionally only those with KEY=VALUE labels")
  .action(async (selectors: string[]) => {
    const p = currentProfile(globals().proxy);
    const auth = userAuthClient(p);
    try {
      print(renderNodes(await listNodes(auth, parseSelector(selectors)), parseFormat(globals().format)));
    } finally {
      auth.close();
    }
  });

program
  .command("ssh <target> [command...]")
  .description("run a command or a shell on a node: [LOGIN@]NODE, or KEY=VALUE to run on every match")
  .option("-l, --login <login>", "OS login on the node")
  .option("-t, --tty", "allocate a terminal even for a command")
  .option("-N, --no-command", "run nothing; keep port forwardings open")
  .option("-A, --forward-agent", "forward your ssh-agent")
  .option("-L, --local <spec>", "local forwarding [BIND:]PORT:HOST:HOSTPORT (repeatable)", collect, [])
  .option("-R, --remote <spec>", "remote forwarding [BIND:]PORT:HOST:HOSTPORT (repeatable)", collect, [])
  .allowUnknownOption()
  .action(async (target: string, command: string[], o: SshFlags & { command?: boolean }) => {
    const flags: SshFlags = { ...o, noCommand: o.command === false };
    const g = globals();
    if (g.proxy) flags.proxy = g.proxy;
    process.exitCode = await jshSsh(target, command, flags);
  });

program
  .command("scp <paths...>")
  .description("copy files to or from nodes: jsh scp [-r] FILE LOGIN@NODE:PATH")
  .option("-r, --recursive", "copy directories")
  .action(async (paths: string[], o: { recursive?: boolean }) => {
    process.exitCode = await scp(paths, !!o.recursive, globals().proxy);
  });

program
  .command("config")
  .description("print an ssh_config block so OpenSSH reaches NODE.CLUSTER through the proxy")
  .action(() => {
    process.stdout.write(sshConfig(currentProfile(globals().proxy)));
  });

program
  .command("proxy")
  .description("local helpers for unmodified clients")
  .command("ssh <target>")
  .description("pipe stdin/stdout to [LOGIN@]NODE[:PORT] (use as OpenSSH's ProxyCommand)")
  .action(async (target: string) => {
    process.exitCode = await proxySsh(target, globals().proxy);
  });

registerDbCommands(program, globals, print);
registerProxyDb(program, () => globals().proxy, print);
registerAppsCommands(program, globals, print);
registerProxyApp(program, () => globals().proxy, print);
registerKubeCommands(program, globals, print);

const recordings = program.command("recordings").description("recorded sessions");
recordings
  .command("ls")
  .description("list the session recordings you may see")
  .action(async () => {
    const auth = userAuthClient(currentProfile(globals().proxy));
    try {
      print(await recordingsLs(auth, parseFormat(globals().format)));
    } finally {
      auth.close();
    }
  });

program
  .command("play <sessionId>")
  .description("replay a recorded session with its timing")
  .option("--speed <n>", "playback speed", "1")
  .option("--format <format>", "text, or json for the events")
  .action(async (sessionId: string, o: { speed: string; format?: string }) => {
    const speed = Number(o.speed);
    if (!(speed > 0)) throw badParameter("--speed must be a positive number");
    const auth = userAuthClient(currentProfile(globals().proxy));
    try {
      await playRecording(auth, sessionId, speed, parseFormat(o.format ?? globals().format));
    } finally {
      auth.close();
    }
  });

const sessions = program.command("sessions").description("active interactive sessions");
sessions
  .command("ls")
  .description("list the active sessions that are yours or that your roles let you join")
  .action(async () => {
    const auth = userAuthClient(currentProfile(globals().proxy));
    try {
      print(renderSessions(await listSessions(auth), parseFormat(globals().format)));
    } finally {
      auth.close();
    }
  });

program
  .command("join <sessionId>")
  .description("join an active session: watch it (observer) or type into it too (peer), as your roles allow")
  .addOption(new Option("--mode <mode>", "how to take part").choices(["observer", "peer"]).default("observer"))
  .option("-l, --login <login>", "your OS login on the session's node (default: the owner's if you have it, else your first)")
  .action(async (sessionId: string, o: { mode: JoinMode; login?: string }) => {
    const g = globals();
    process.exitCode = await jshJoin(sessionId, { mode: o.mode, ...(o.login ? { login: o.login } : {}), ...(g.proxy ? { proxy: g.proxy } : {}) });
  });

program
  .command("logout")
  .description("remove the saved certificates")
  .action(() => {
    const p = currentProfile(globals().proxy);
    removeDbCerts(p);
    removeAppCerts(p);
    try {
      kubeLogout(p);
    } catch (e) {
      // A kubeconfig jsh cannot read is the user's to fix; the certificates still go.
      process.stderr.write(`WARNING: ${e instanceof Error ? e.message : String(e)}\n`);
    }
    removeProfile(p);
    print(`Logged out ${p.user} from ${p.proxy}.`);
  });

await main(() => program.parseAsync(process.argv).then(() => undefined));
