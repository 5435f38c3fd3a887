import { lazy, type ReactNode, Suspense, useEffect } from "react";
import { Link, match, Redirect, useLocation } from "./router.tsx";
import { NO_ACL, useSession } from "./session.tsx";
import { Loading } from "./ui.tsx";
import { InvitePage } from "./pages/Invite.tsx";
import { RecordingsPage } from "./pages/Recordings.tsx";
import { ResourcesPage } from "./pages/Resources.tsx";
import { SessionsPage } from "./pages/Sessions.tsx";
import { SignInPage } from "./pages/SignIn.tsx";

// Pages with heavy dependencies (xterm) or used by few people load on demand.
const TerminalPage = lazy(() => import("./pages/Terminal.tsx"));
const PlayerPage = lazy(() => import("./pages/Player.tsx"));
const AuditPage = lazy(() => import("./pages/Audit.tsx"));
const UsersPage = lazy(() => import("./pages/admin/Users.tsx"));
const RolesPage = lazy(() => import("./pages/admin/Roles.tsx"));
const TokensPage = lazy(() => import("./pages/admin/Tokens.tsx"));

function TopBar() {
  const { session, signOut } = useSession();
  const { path } = useLocation();
  const acl = session?.acl ?? NO_ACL;
  const nav: [string, string, boolean][] = [
    ["/web/resources", "Resources", true],
    // Everyone sees the sessions they own, take part in or may join; acl.sessions means "all of them".
    ["/web/sessions", "Active sessions", true],
    ["/web/recordings", "Recordings", acl.recordings],
    ["/web/audit", "Audit log", acl.audit],
    ["/web/admin/users", "Users", acl.users],
    ["/web/admin/roles", "Roles", acl.roles],
    ["/web/admin/tokens", "Join tokens", acl.tokens],
  ];
  return (
    <header className="topbar">
      <Link href="/web/resources" className="brand" aria-label={`Jumpgate, cluster ${session?.cluster_name ?? ""}`}>
        <span className="logo" aria-hidden="true" />
        <span>Jumpgate</span>
        {session?.cluster_name ? <span className="cluster">{session.cluster_name}</span> : null}
      </Link>
      <nav aria-label="Main">
        <ul>
          {nav
            .filter(([, , shown]) => shown)
            .map(([href, label]) => (
              <li key={href}>
                <Link href={href} aria-current={path.startsWith(href) ? "page" : undefined}>
                  {label}
                </Link>
              </li>
            ))}
        </ul>
      </nav>
      <div className="who">
        <span className="user" title={session?.roles.join(", ")}>
          {session?.user}
        </span>
        <button type="button" onClick={() => void signOut()}>
          Sign out
        </button>
      </div>
    </header>
  );
}

function Page({ title, children }: { title: string; children: ReactNode }) {
  document.title = `${title} · Jumpgate`;
  return (
    <>
      <TopBar />
      <main id="main" className="page">
        <Suspense fallback={<Loading />}>{children}</Suspense>
      </main>
    </>
  );
}

export function App() {
  const { session } = useSession();
  const { path, search } = useLocation();

  // Pages without a session.
  const invite = match("/web/invite/:token", path);
  if (invite) {
    document.title = "Accept invitation · Jumpgate";
    return <InvitePage token={invite.token ?? ""} />;
  }
  if (path === "/web/login") {
    if (session) {
      const next = safeNext(search.get("next"));
      // The app launch route is served by the proxy, not this UI: it needs a real page load.
      if (next.startsWith("/web/launch/")) return <PageLoad to={next} />;
      return <Redirect to={next} />;
    }
    document.title = "Sign in · Jumpgate";
    return <SignInPage />;
  }
  if (session === undefined) return <Loading what="your session" />;
  if (session === null) {
    const next = path.startsWith("/web/") && path !== "/web/" ? `?next=${encodeURIComponent(path + (search.size ? `?${search}` : ""))}` : "";
    return <Redirect to={`/web/login${next}`} />;
  }

  const term = match("/web/terminal/:node/:login", path);
  if (term)
    return (
      <Page title={`${term.login}@${term.node}`}>
        <TerminalPage key={path} node={term.node ?? ""} login={term.login ?? ""} />
      </Page>
    );
  const join = match("/web/sessions/:id/join/:mode", path);
  if (join)
    return (
      <Page title="Join session">
        <TerminalPage key={path} join={{ id: join.id ?? "", mode: join.mode ?? "observer" }} node="" login="" />
      </Page>
    );
  const rec = match("/web/recordings/:id", path);
  if (rec)
    return (
      <Page title="Recording">
        <PlayerPage id={rec.id ?? ""} />
      </Page>
    );
  switch (path.replace(/\/+$/, "")) {
    case "":
    case "/web":
      return <Redirect to="/web/resources" />;
    case "/web/resources":
      return (
        <Page title="Resources">
          <ResourcesPage />
        </Page>
      );
    case "/web/sessions":
      return (
        <Page title="Active sessions">
          <SessionsPage />
        </Page>
      );
    case "/web/recordings":
      return (
        <Page title="Recordings">
          <RecordingsPage />
        </Page>
      );
    case "/web/audit":
      return (
        <Page title="Audit log">
          <AuditPage />
        </Page>
      );
    case "/web/admin":
    case "/web/admin/users":
      return (
        <Page title="Users">
          <UsersPage />
        </Page>
      );
    case "/web/admin/roles":
      return (
        <Page title="Roles">
          <RolesPage />
        </Page>
      );
    case "/web/admin/tokens":
      return (
        <Page title="Join tokens">
          <TokensPage />
        </Page>
      );
    default:
      return (
        <Page title="Not found">
          <h1>Page not found</h1>
          <p>
            There is nothing at <code>{path}</code>. <Link href="/web/resources">Go to your resources.</Link>
          </p>
        </Page>
      );
  }
}

/** Leaves the UI for a path the proxy serves itself (replacing this history entry). */
function PageLoad({ to }: { to: string }) {
  useEffect(() => window.location.replace(to), [to]);
  return <Loading what="your app" />;
}

/** Only same-app paths are followed after sign-in. */
export function safeNext(next: string | null): string {
  if (next && next.startsWith("/web/") && !next.startsWith("//") && !next.startsWith("/web/login")) return next;
  return "/web/resources";
}
