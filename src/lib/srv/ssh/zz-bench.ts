import { startKit, run } from "./ssh.test-helpers.ts";
const kit = await startKit();
const id = kit.identity("alice", ["root"]);
for (const cipher of ["aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com"]) {
  for (let i = 0; i < 2; i++) {
    const t0 = Date.now();
    const r = await run("bash", ["-c", `ssh ${[...kit.sshOpts(), ...id, "-c", cipher, "-p", String(kit.port), "root@127.0.0.1"].join(" ")} 'head -c 500M /dev/zero' | wc -c`], { timeoutMs: 60000 });
    const dt = Date.now() - t0;
    console.log(cipher, "down", r.stdout.trim(), dt, "ms", Math.round(500 / (dt / 1000)), "MB/s", r.stderr.slice(0, 200));
    const t1 = Date.now();
    const u = await run("bash", ["-c", `head -c 500M /dev/zero | ssh ${[...kit.sshOpts(), ...id, "-c", cipher, "-p", String(kit.port), "root@127.0.0.1"].join(" ")} 'wc -c'`], { timeoutMs: 60000 });
    const du = Date.now() - t1;
    console.log(cipher, "up", u.stdout.trim(), du, "ms", Math.round(500 / (du / 1000)), "MB/s");
  }
}
await kit.close();
