import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from "react";
import { type Acl, api, type CurrentSession, hadSession, onUnauthenticated, rememberSession, setCsrfToken } from "./api.ts";
import { navigate } from "./router.tsx";

export const NO_ACL: Acl = { users: false, roles: false, tokens: false, audit: false, recordings: false, sessions: false };

interface SessionState {
  /** undefined while the first check runs; null when signed out. */
  session: CurrentSession | null | undefined;
  /** Why the user is on the sign-in page, when it is not their choice. */
  notice: string;
  refresh(): Promise<CurrentSession | null>;
  signedIn(s: CurrentSession): Promise<void>;
  signOut(): Promise<void>;
}

const Ctx = createContext<SessionState | null>(null);

export function useSession(): SessionState {
  const c = useContext(Ctx);
  if (!c) throw new Error("useSession outside SessionProvider");
  return c;
}

function signInPath(): string {
  const here = window.location.pathname + window.location.search;
  const next = here.startsWith("/web/") && !here.startsWith("/web/login") ? `&next=${encodeURIComponent(here)}` : "";
  return `/web/login?expired=1${next}`;
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<CurrentSession | null | undefined>(undefined);
  const [notice, setNotice] = useState("");

  const refresh = useCallback(async () => {
    const s = await api<CurrentSession>("GET", "/webapi/sessions/current");
    setCsrfToken(s.csrf_token);
    rememberSession(true);
    setSession(s);
    return s;
  }, []);

  useEffect(() => {
    onUnauthenticated((message) => {
      setCsrfToken("");
      setSession(null);
      setNotice(/expired/i.test(message) ? message : "Your session has expired, sign in again.");
      navigate(signInPath(), { replace: true });
    });
    if (!hadSession()) {
      setSession(null);
      return;
    }
    refresh().catch(() => setSession(null));
  }, [refresh]);

  const signedIn = useCallback(
    async (s: CurrentSession) => {
      setCsrfToken(s.csrf_token);
      rememberSession(true);
      setNotice("");
      setSession(s);
      await refresh();
    },
    [refresh],
  );

  const signOut = useCallback(async () => {
    try {
      await api<void>("DELETE", "/webapi/sessions/current", undefined, { noRedirect: true });
    } catch {
      // the session is gone either way
    }
    setCsrfToken("");
    rememberSession(false);
    setSession(null);
    setNotice("You have signed out.");
    navigate("/web/login", { replace: true });
  }, []);

  const value = useMemo(() => ({ session, notice, refresh, signedIn, signOut }), [session, notice, refresh, signedIn, signOut]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}
