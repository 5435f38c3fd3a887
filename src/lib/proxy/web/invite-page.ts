/**
 * The invitation page: a new user sets a password and enrolls TOTP. It stays a
 * plain server-rendered page (no session, the token in the URL is the
 * credential) until the React app of the web UI takes over.
 */
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);

const STYLE = `
body{font:15px/1.5 system-ui,sans-serif;background:#0f172a;color:#e2e8f0;display:flex;justify-content:center;padding:40px 12px;margin:0}
main{background:#1e293b;border-radius:10px;padding:28px 32px;max-width:440px;width:100%;box-shadow:0 10px 30px #0006}
h1{font-size:20px;margin:0 0 4px}p{color:#94a3b8;margin:4px 0 16px}
label{display:block;margin:14px 0 4px;font-weight:600}
input{width:100%;box-sizing:border-box;padding:9px 10px;border-radius:6px;border:1px solid #475569;background:#0f172a;color:#e2e8f0;font-size:15px}
button{margin-top:20px;width:100%;padding:10px;border:0;border-radius:6px;background:#6366f1;color:white;font-size:15px;font-weight:600;cursor:pointer}
button:focus,input:focus{outline:2px solid #a5b4fc}
.qr{background:white;border-radius:8px;padding:8px;width:180px;margin:8px auto}.qr svg{width:100%;height:auto;display:block}
code{background:#0f172a;padding:2px 6px;border-radius:4px;word-break:break-all}
.err{color:#fca5a5;min-height:1.5em;margin-top:12px}.ok{color:#86efac}`;

export function invitePage(p: { token: string; user: string; cluster: string; expires: string; totpSecret: string; totpQrSvg: string }): string {
  const otp = p.totpSecret
    ? `<label>Second factor</label>
<p>Scan this code with an authenticator app, or enter the secret by hand.</p>
<div class="qr">${p.totpQrSvg}</div>
<p>Secret: <code id="totp-secret">${escapeHtml(p.totpSecret)}</code></p>
<label for="otp">Code from the app</label>
<input id="otp" name="otp" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" required>`
    : "";
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Welcome to ${escapeHtml(p.cluster)} — Jumpgate</title><style>${STYLE}</style></head>
<body><main><h1>Welcome, ${escapeHtml(p.user)}</h1><p>Set up your account on <b>${escapeHtml(p.cluster)}</b>. This link expires at ${escapeHtml(p.expires)}.</p>
<form id="invite" data-token="${escapeHtml(p.token)}" data-otp="${p.totpSecret ? "1" : ""}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="new-password" minlength="8" required>
<label for="confirm">Confirm password</label><input id="confirm" name="confirm" type="password" autocomplete="new-password" minlength="8" required>
${otp}
<button type="submit">Create account</button><div class="err" id="message" role="alert"></div></form></main>
<script src="/web/assets/invite.js"></script></body></html>`;
}

export function messagePage(title: string, message: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)} — Jumpgate</title><style>${STYLE}</style></head>
<body><main><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p></main></body></html>`;
}

export const INVITE_JS = `"use strict";
(function(){
var form=document.getElementById("invite");if(!form)return;
var msg=document.getElementById("message");
form.addEventListener("submit",function(ev){
  ev.preventDefault();msg.className="err";msg.textContent="";
  var pw=form.password.value;
  if(pw!==form.confirm.value){msg.textContent="The passwords do not match.";return;}
  var body={password:pw,totp_code:form.dataset.otp?form.otp.value:""};
  fetch("/webapi/invites/"+encodeURIComponent(form.dataset.token),{method:"POST",headers:{"content-type":"application/json"},body:JSON.stringify(body)})
  .then(function(r){return r.json().then(function(j){return {ok:r.ok,j:j};});})
  .then(function(x){
    if(!x.ok){msg.textContent=(x.j&&x.j.error&&x.j.error.message)||"Something went wrong.";return;}
    form.innerHTML="";msg.className="ok";
    msg.textContent="Your account "+x.j.user+" is ready. Log in with: jsh login --proxy="+location.host+" --user="+x.j.user;
    form.appendChild(msg);
  })
  .catch(function(){msg.textContent="Cannot reach the proxy; check your connection and try again.";});
});
})();`;
