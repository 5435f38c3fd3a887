// Preloaded into the daemon by `bench/certs.ts --cpu-prof DIR` (NODE_OPTIONS does
// not allow --cpu-prof itself). The benchmark sends SIGUSR2 when the timed run
// starts; profiling stops at SIGTERM (the end of the run), and the profile is
// written to DIR/daemon-<pid>.cpuprofile, ready for Chrome DevTools or speedscope.
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { join } from "node:path";

const dir = process.env.BENCH_CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  let started = false;
  process.on("SIGUSR2", () => {
    if (started) return;
    started = true;
    session.post("Profiler.enable");
    session.post("Profiler.setSamplingInterval", { interval: 250 });
    session.post("Profiler.start");
  });
  process.once("SIGTERM", () => {
    if (!started) return;
    session.post("Profiler.stop", (err, res) => {
      if (!err) writeFileSync(join(dir, `daemon-${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
}
