#!/usr/bin/env -S node --initial-old-space-size=128
// Runs the TypeScript entry point through tsx so a checkout works without a build step.
//
// --initial-old-space-size: V8 counts external memory allocated since the last
// full collection (the Buffers of data in flight and not yet collected) against
// the old generation's headroom, which for a heap of ~30 MB is a few MB. A
// daemon relaying data allocates tens of MB of Buffers between young
// collections, so without a floor under the old generation's limit V8 starts a
// full mark-compact after nearly every young collection: ~100 per GiB relayed,
// about half of the proxy's and the node's CPU (bench/README.md, SSH). The
// floor only delays full collections until the old generation holds that much;
// it does not reserve memory. Node does not allow it in NODE_OPTIONS, so
// whatever starts `node bin/jumpgate.js` rather than this script must pass it
// (test/harness/cluster.ts reads it from this line).
import { register } from "tsx/esm/api";
register();
await import("../src/cli/jumpgate.ts");
