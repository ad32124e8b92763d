// The login screen of a master with an auth file: POST /auth/login sets an HTTP-only session cookie.
import { html, useState } from "../vendor/preact-htm.js";
import { api } from "../api.js";
import { t } from "../texts.js";
import { Notice, errorText } from "../ui.js";

export function Login({ onLoggedIn }) {
  const [user, setUser] = useState("");
  const [password, setPassword] = useState("");
  const [notice, setNotice] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    try {
      await api.post("/auth/login", { json: { user, password } });
      onLoggedIn();
    } catch (error) {
      setNotice({ text: errorText(error), error: true });
    }
    setBusy(false);
  };
  return html`<main class="container login"><article>
    <header><strong>${t("title")}</strong> — ${t("login")}</header>
    <${Notice} notice=${notice} />
    <form onSubmit=${submit}>
      <label for="login-user">${t("user")}</label>
      <input id="login-user" autocomplete="username" required value=${user} onInput=${(e) => setUser(e.target.value)} />
      <label for="login-password">${t("password")}</label>
      <input id="login-password" type="password" autocomplete="current-password" required value=${password}
        onInput=${(e) => setPassword(e.target.value)} />
      <button type="submit" aria-busy=${busy ? "true" : undefined}>${t("login")}</button>
    </form>
  </article></main>`;
}
