import { Command, Option } from "commander";
import { VERSION } from "../api/constants.ts";
import { type AdminConnection, connectAdmin, parseFormat } from "../lib/client/index.ts";
import { loadConfig } from "../lib/config/index.ts";
import { authExport, authSign } from "./jctl/auth.ts";
import { auditEvents, lockCreate, statusText, tokensAdd, tokensLs } from "./jctl/misc.ts";
import { createFromFile, getResources, removeResource } from "./jctl/resources.ts";
import { usersAdd, usersLs, usersReset, usersUpdate } from "./jctl/users.ts";
import { main } from "./run.ts";

const program = new Command("jctl")
  .description("Administer a Jumpgate cluster")
  .version(VERSION)
  .option("--config <file>", "the daemon's config file (for its data dir)")
  .option("--data-dir <dir>", "the Auth Service's data dir, holding the local admin identity")
  .option("-i, --identity <file>", "identity file to use instead of the local admin identity")
  .option("--auth-server <addr>", "Auth Service or proxy address HOST:PORT")
  .option("--insecure", "do not verify the proxy's certificate (self-signed demo proxies)")
  .option("-d, --debug", "print more on errors")
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

let conn: AdminConnection | undefined;
async function auth() {
  const o = program.opts();
  const configFile = o.config ?? process.env.JUMPGATE_CONFIG;
  conn ??= await connectAdmin({
    ...(o.dataDir ? { dataDir: o.dataDir } : {}),
    ...(configFile ? { configDataDir: loadConfig({ file: configFile }).jumpgate.data_dir } : {}),
    ...(o.identity ? { identity: o.identity } : {}),
    ...(o.authServer ? { authServer: o.authServer } : {}),
    insecure: !!o.insecure,
  });
  return conn.client;
}
const print = (s: string): void => {
  process.stdout.write(`${s}\n`);
};
const fmt = (allowed?: ("text" | "json" | "yaml")[]) =>
  new Option("--format <format>", "output format").default("text").choices(allowed ?? ["text", "json", "yaml"]);

program
  .command("status")
  .description("cluster name, CA fingerprints, version")
  .addOption(fmt())
  .action(async (o) => {
    print(await statusText(await auth(), parseFormat(o.format)));
  });

const users = program.command("users").description("manage users");
users
  .command("add <name>")
  .description("create a user and print a one-time sign-up link")
  .option("--roles <roles>", "comma-separated roles")
  .option("--logins <logins>", "comma-separated OS logins (trait logins)")
  .option("--traits <kv...>", "traits as KEY=V1,V2")
  .action(async (name, o) => print(await usersAdd(await auth(), name, o)));
users
  .command("ls")
  .addOption(fmt())
  .action(async (o) => print(await usersLs(await auth(), parseFormat(o.format))));
users.command("rm <name>").action(async (name) => {
  await (await auth()).deleteResource({ kind: "user", name });
  print(`User "${name}" has been deleted`);
});
users
  .command("update <name>")
  .option("--set-roles <roles>", "replace the user's roles")
  .option("--set-logins <logins>", "replace the user's logins")
  .option("--set-traits <kv...>", "replace traits KEY=V1,V2")
  .action(async (name, o) => print(await usersUpdate(await auth(), name, o)));
users
  .command("reset <name>")
  .description("clear password and second factor, print a new link")
  .action(async (name) => print(await usersReset(await auth(), name)));

program
  .command("create")
  .description("create resources from YAML documents")
  .requiredOption("-f, --file <file>", "YAML file with one or more documents ('-' for stdin)")
  .option("--force", "overwrite existing resources")
  .action(async (o) => print((await createFromFile(await auth(), o.file, !!o.force)).join("\n")));
program
  .command("get <ref>")
  .description("print KIND or KIND/NAME")
  .addOption(fmt().default("yaml"))
  .action(async (ref, o) => {
    print(await getResources(await auth(), ref, parseFormat(o.format)));
  });
program
  .command("rm <ref>")
  .description("delete KIND/NAME")
  .action(async (ref) => print(await removeResource(await auth(), ref)));

const tokens = program.command("tokens").description("manage join tokens");
tokens
  .command("add")
  .option("--type <types>", "what may join: node, proxy, db, app, kube", "node")
  .option("--ttl <duration>", "how long the token is valid", "30m")
  .option("--value <token>", "use this token value instead of a random one")
  .addOption(fmt(["text", "json", "yaml"]))
  .action(async (o) => {
    const proxy = process.env.JUMPGATE_PROXY ?? "PROXY_HOST:3080";
    print(await tokensAdd(await auth(), o, parseFormat(o.format), proxy));
  });
tokens
  .command("ls")
  .addOption(fmt())
  .action(async (o) => print(await tokensLs(await auth(), parseFormat(o.format))));
tokens.command("rm <token>").action(async (token) => {
  await (await auth()).deleteResource({ kind: "token", name: token });
  print("Token has been deleted");
});

const authCmd = program.command("auth").description("certificate authorities");
authCmd
  .command("export")
  .requiredOption("--type <type>", "user | host | tls | tls-host | db | jwt")
  .action(async (o) => print(await authExport(await auth(), o.type)));
authCmd
  .command("sign")
  .option("--user <name>", "sign for this user")
  .option("--host <names>", "sign a host (or, with --format db, a database server) certificate for NAME[,ALIASES]")
  .option("--format <format>", "openssh | tls | identity | db", "identity")
  .option("--ttl <duration>", "certificate lifetime")
  .requiredOption("-o, --out <path>", "where to write")
  .action(async (o) => print(await authSign(await auth(), o)));

program
  .command("lock")
  .description("lock a user, a role or a node at once, whatever certificates exist")
  .option("--user <name>", "lock this user")
  .option("--role <name>", "lock everyone holding this role")
  .option("--node <hostId>", "lock this node (its host UUID)")
  .option("--message <text>", "shown to whoever is refused")
  .option("--ttl <duration>", "lift the lock after this long")
  .action(async (o: { user?: string; role?: string; node?: string; message?: string; ttl?: string }) => {
    print(await lockCreate(await auth(), o));
  });

program
  .command("audit")
  .command("events")
  .option("--since <duration>", "how far back", "1h")
  .option("--type <types...>", "only these event types")
  .option("--user <name>", "only this user's events")
  .option("--limit <n>", "at most this many events")
  .addOption(fmt())
  .action(async (o) => print(await auditEvents(await auth(), o, parseFormat(o.format))));

await main(async () => {
  try {
    await program.parseAsync(process.argv);
  } finally {
    conn?.client.close();
  }
});
