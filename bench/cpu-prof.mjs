// Preloaded into the daemon by `bench/certs.ts --cpu-prof DIR` (NODE_OPTIONS does
// not allow --cpu-prof itself): profiles the whole process and writes
// DIR/daemon-<pid>.cpuprofile when it exits.
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { join } from "node:path";

const dir = process.env.BENCH_CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post("Profiler.enable");
  session.post("Profiler.setSamplingInterval", { interval: 200 });
  session.post("Profiler.start");
  process.once("exit", () => {
    // The in-process session answers synchronously, so this completes before exit.
    session.post("Profiler.stop", (err, res) => {
      if (!err) writeFileSync(join(dir, `daemon-${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
}
