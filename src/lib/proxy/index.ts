export { classifyFirstBytes, type ConnHandler, type ConnInfo, Multiplexer } from "./mux.ts";
export { type ProxyOptions, type ProxyService, startProxy } from "./service.ts";
