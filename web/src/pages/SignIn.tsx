import { type FormEvent, useEffect, useState } from "react";
import { api, type CurrentSession, errorText, type Ping } from "../api.ts";
import { useLocation } from "../router.tsx";
import { useSession } from "../session.tsx";
import { ErrorMessage, Notice } from "../ui.tsx";

export function SignInPage() {
  const { notice, signedIn } = useSession();
  const { search } = useLocation();
  const [ping, setPing] = useState<Ping | null>(null);
  const [user, setUser] = useState(search.get("user") ?? "");
  const [password, setPassword] = useState("");
  const [otp, setOtp] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api<Ping>("GET", "/webapi/ping", undefined, { noRedirect: true }).then(setPing, (e: unknown) => setError(errorText(e)));
  }, []);

  const needsOtp = ping ? ping.auth.second_factor === "otp" || ping.auth.second_factor === "on" : false;
  let info = notice;
  if (!info && search.get("expired")) info = "Your session has expired, sign in again.";
  if (search.get("invited")) info = `Your account is ready. Sign in as ${search.get("user") ?? "your new user"}.`;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError("");
    setBusy(true);
    try {
      const body: Record<string, string> = { user: user.trim(), password };
      if (needsOtp) body.otp = otp.trim();
      const s = await api<CurrentSession>("POST", "/webapi/sessions", body, { noRedirect: true });
      await signedIn(s);
    } catch (err) {
      setError(errorText(err));
      setOtp("");
      setBusy(false);
    }
  };

  return (
    <main id="main" className="centered">
      <form className="card auth" onSubmit={submit} aria-labelledby="signin-title">
        <div className="brand big">
          <span className="logo" aria-hidden="true" />
          <span>Jumpgate</span>
        </div>
        <h1 id="signin-title">Sign in{ping?.cluster_name ? ` to ${ping.cluster_name}` : ""}</h1>
        {info ? <Notice>{info}</Notice> : null}
        <label htmlFor="signin-user">Username</label>
        <input id="signin-user" name="username" autoComplete="username" required autoFocus value={user} onChange={(e) => setUser(e.target.value)} />
        <label htmlFor="signin-password">Password</label>
        <input
          id="signin-password"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        {needsOtp ? (
          <>
            <label htmlFor="signin-otp">Authenticator code</label>
            <input
              id="signin-otp"
              name="otp"
              inputMode="numeric"
              autoComplete="one-time-code"
              pattern="[0-9]{6,8}"
              required
              value={otp}
              onChange={(e) => setOtp(e.target.value)}
            />
          </>
        ) : null}
        <ErrorMessage error={error} />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
