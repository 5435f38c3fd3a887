import { type FormEvent, useEffect, useState } from "react";
import { api, errorText, type Invite } from "../api.ts";
import { navigate } from "../router.tsx";
import { CopyButton, ErrorMessage, formatTime, Loading } from "../ui.tsx";

export function InvitePage({ token }: { token: string }) {
  const [invite, setInvite] = useState<Invite | null>(null);
  const [loadError, setLoadError] = useState("");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [code, setCode] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api<Invite>("GET", `/webapi/invites/${encodeURIComponent(token)}`, undefined, { noRedirect: true }).then(setInvite, (e: unknown) =>
      setLoadError(errorText(e)),
    );
  }, [token]);

  const needsOtp = invite ? invite.second_factor !== "off" && invite.totp_secret !== "" : false;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError("");
    if (password !== confirm) {
      setError("The two passwords do not match.");
      return;
    }
    setBusy(true);
    try {
      const r = await api<{ user: string }>(
        "POST",
        `/webapi/invites/${encodeURIComponent(token)}`,
        { password, ...(needsOtp ? { totp_code: code.trim() } : {}) },
        { noRedirect: true },
      );
      navigate(`/web/login?invited=1&user=${encodeURIComponent(r.user)}`, { replace: true });
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  };

  return (
    <main id="main" className="centered">
      <div className="card auth wide">
        <div className="brand big">
          <span className="logo" aria-hidden="true" />
          <span>Jumpgate</span>
        </div>
        <h1>Accept your invitation</h1>
        {loadError ? (
          <ErrorMessage error={`${loadError} Ask your administrator for a new invitation link.`} />
        ) : !invite ? (
          <Loading what="the invitation" />
        ) : (
          <form onSubmit={submit}>
            <p>
              You are setting up the account <strong className="invite-user">{invite.user}</strong>. This link expires at{" "}
              {formatTime(invite.expires)}.
            </p>
            <label htmlFor="invite-password">New password</label>
            <input
              id="invite-password"
              type="password"
              autoComplete="new-password"
              required
              minLength={8}
              autoFocus
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
            <label htmlFor="invite-confirm">Confirm password</label>
            <input id="invite-confirm" type="password" autoComplete="new-password" required value={confirm} onChange={(e) => setConfirm(e.target.value)} />
            {needsOtp ? (
              <fieldset className="totp">
                <legend>Second factor</legend>
                <p>Scan this QR code with an authenticator app, or type the secret into it by hand.</p>
                <div className="qr-row">
                  {/* The SVG comes from our own proxy (the invite API) and contains only shapes. */}
                  <div className="qr" role="img" aria-label="QR code for your authenticator app" dangerouslySetInnerHTML={{ __html: invite.totp_qr_svg }} />
                  <div>
                    <p className="label">Secret</p>
                    <p>
                      <code className="totp-secret">{invite.totp_secret}</code>
                    </p>
                    <CopyButton text={invite.totp_secret} label="Copy secret" />
                  </div>
                </div>
                <label htmlFor="invite-code">Code from the app</label>
                <input
                  id="invite-code"
                  inputMode="numeric"
                  autoComplete="one-time-code"
                  pattern="[0-9]{6,8}"
                  required
                  value={code}
                  onChange={(e) => setCode(e.target.value)}
                />
              </fieldset>
            ) : null}
            <ErrorMessage error={error} />
            <button type="submit" className="primary" disabled={busy}>
              {busy ? "Saving…" : "Set password and continue"}
            </button>
          </form>
        )}
      </div>
    </main>
  );
}
