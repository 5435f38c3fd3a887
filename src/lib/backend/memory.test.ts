import { FakeClock } from "../../api/clock.ts";
import { backendContract } from "./contract.test-suite.ts";
import { MemoryBackend } from "./memory.ts";

backendContract("memory", async (opts) => {
  const clock = new FakeClock();
  const backend = new MemoryBackend({ clock, ...opts });
  return { backend, clock, cleanup: async () => undefined };
});
