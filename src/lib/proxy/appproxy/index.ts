/** The proxy's application access (DESIGN §5, docs/app-access.md): browser routing by app host, the launch route, and `jsh proxy app`. */

export { AppWebHandler, type AppWebOptions } from "./browser.ts";
export { AppTlsRoute, type AppTlsRouteOptions } from "./cli.ts";
export { appSessionCookie, clearedAppSessionCookie, readCookie, withoutCookie } from "./cookies.ts";
export { type AppRefusal, type AppRoutes, type AppServerRoute, noServiceMessage, openAppStream } from "./dialer.ts";
export { appAuthUrl, appForHost, appOrigin, appSubdomain, hostMatchesSni, hostOf, launchUrl, publicAddrIndex, safeAppPath } from "./hosts.ts";
export { LAUNCH_PATH, type LaunchRequest, launchApp } from "./launch.ts";
export { AppProxy, type AppProxyOptions } from "./server.ts";
export { APP_SESSION_CACHE_MS, type AppSessionAuth, AppSessionCache } from "./sessions.ts";
