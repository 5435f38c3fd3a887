import { auditLogContract } from "./contract.test-suite.ts";
import { MemoryAuditLog } from "./memory.ts";

auditLogContract("memory", async (clock) => ({ log: new MemoryAuditLog({ clock }) }));
