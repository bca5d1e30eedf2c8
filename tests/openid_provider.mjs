// A real OpenID provider for the sign-in tests: panva's oidc-provider (the certified Node.js
// implementation), run with the machine's Node.js by tests/openid_provider.py.
//
// Started with CLIENT_ID, CLIENT_SECRET and REDIRECT_URIS (comma-separated) in the environment;
// listens on a free port of 127.0.0.1 and prints one JSON line, {"issuer": ...}, once it is
// ready. Its endpoints live at paths of its own (/oauth2/...), so a client finds them only
// through discovery; it demands PKCE (S256) of every authorization request.
//
// Test-only control endpoints (JSON):
//   PUT    /_control/accounts/<sub>   {"password": ..., "claims": {...}}  add or replace a person
//   DELETE /_control/accounts/<sub>                                       remove a person
//   PUT    /_control/fault            {"fault": "wrong_audience" | "expired" | "bad_signature" | null}
// A fault makes the token endpoint answer with an ID token that is wrong in that one way: the
// claims changed and signed again with the provider's own key, or signed with a stranger's key.

import { generateKeyPairSync, sign } from "node:crypto";
import http from "node:http";

import Provider, { interactionPolicy } from "oidc-provider";

const { CLIENT_ID, CLIENT_SECRET, REDIRECT_URIS } = process.env;
const KID = "test-signing-key";

const accounts = new Map(); // sub -> { password, claims }
let fault = null;

function rsaKey() {
  return generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
}
const signingKey = rsaKey();
const strangersKey = rsaKey();

function base64url(value) {
  return Buffer.from(value).toString("base64url");
}

// The token's header and claims as given (fault applied), signed with `key`.
function resign(token, change, key) {
  const [header, payload] = token.split(".");
  const claims = change(JSON.parse(Buffer.from(payload, "base64url").toString()));
  const input = `${header}.${base64url(JSON.stringify(claims))}`;
  return `${input}.${sign("sha256", Buffer.from(input), key).toString("base64url")}`;
}

const FAULTS = {
  wrong_audience: (token) => resign(token, (c) => ({ ...c, aud: "another-application" }), signingKey),
  expired: (token) => {
    const now = Math.floor(Date.now() / 1000);
    return resign(token, (c) => ({ ...c, iat: now - 7200, exp: now - 3600 }), signingKey);
  },
  bad_signature: (token) => resign(token, (c) => c, strangersKey),
};

function page(title, body) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>
<body><main><h1>${title}</h1>${body}</main></body></html>`;
}

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function loginForm(uid, error = "") {
  return page("Test identity provider", `
${error ? `<p role="alert">${escape(error)}</p>` : ""}
<form method="post" action="/interaction/${uid}/login">
  <label>Username <input name="username" autocomplete="username"></label>
  <label>Password <input name="password" type="password" autocomplete="current-password"></label>
  <button type="submit">Sign in</button>
  <button type="submit" formaction="/interaction/${uid}/cancel">Cancel</button>
</form>`);
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString();
}

function listen(server) {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)));
}

// A person removed while signed in here must log in again, which they cannot: with prompt=none
// the provider answers login_required (as real providers do once an account is gone).
const policy = interactionPolicy.base();
policy.get("login").checks.add(new interactionPolicy.Check(
  "account_removed", "the person is no longer known", "login_required",
  (ctx) => Boolean(ctx.oidc.session.accountId && !ctx.oidc.account),
));

const server = http.createServer();
const port = await listen(server);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    redirect_uris: REDIRECT_URIS.split(","),
    response_types: ["code"],
    grant_types: ["authorization_code"],
    token_endpoint_auth_method: "client_secret_post",
  }],
  jwks: { keys: [{ ...signingKey.export({ format: "jwk" }), kid: KID, alg: "RS256", use: "sig" }] },
  routes: {
    authorization: "/oauth2/authorize",
    token: "/oauth2/token",
    userinfo: "/oauth2/userinfo",
    jwks: "/oauth2/keys",
  },
  scopes: ["openid", "email", "profile", "groups"],
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name", "given_name", "family_name", "preferred_username"],
    groups: ["groups"],
  },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  interactions: { policy },
  cookies: { keys: ["openid-provider-test-cookie-key"] },
  async findAccount(_ctx, sub) {
    const account = accounts.get(sub);
    if (!account) return undefined;
    return { accountId: sub, claims: async () => ({ sub, ...account.claims }) };
  },
  // First-party application: no consent screen; everything it asks for is granted.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) {
      const grant = await ctx.oidc.provider.Grant.find(grantId);
      if (grant) return grant;
    }
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope("openid email profile groups");
    await grant.save();
    return grant;
  },
});

provider.use(async (ctx, next) => {
  await next();
  if (fault && ctx.path === "/oauth2/token" && ctx.body?.id_token) {
    ctx.body = { ...ctx.body, id_token: FAULTS[fault](ctx.body.id_token) };
  }
});

provider.on("server_error", (_ctx, err) => console.error(err));

const handleProvider = provider.callback();

async function control(req, res, path) {
  const body = req.method === "PUT" ? JSON.parse(await readBody(req)) : {};
  const account = path.match(/^\/_control\/accounts\/([^/]+)$/);
  if (account && req.method === "PUT") {
    accounts.set(decodeURIComponent(account[1]), body);
  } else if (account && req.method === "DELETE") {
    accounts.delete(decodeURIComponent(account[1]));
  } else if (path === "/_control/fault" && req.method === "PUT") {
    if (body.fault !== null && !(body.fault in FAULTS)) throw new Error(`unknown fault ${body.fault}`);
    fault = body.fault;
  } else {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(204).end();
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name !== "login") throw new Error(`unexpected prompt ${details.prompt.name}`);
  if (action === undefined) {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(loginForm(uid));
    return;
  }
  if (action === "cancel") {
    await provider.interactionFinished(req, res, {
      error: "access_denied", error_description: "The person cancelled the sign-in.",
    }, { mergeWithLastSubmission: false });
    return;
  }
  const form = new URLSearchParams(await readBody(req));
  const account = accounts.get(form.get("username"));
  if (!account || account.password !== form.get("password")) {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" })
      .end(loginForm(uid, "Unknown username or wrong password."));
    return;
  }
  await provider.interactionFinished(
    req, res, { login: { accountId: form.get("username") } }, { mergeWithLastSubmission: false },
  );
}

server.on("request", async (req, res) => {
  const path = new URL(req.url, issuer).pathname;
  try {
    if (path.startsWith("/_control/")) {
      await control(req, res, path);
      return;
    }
    const step = path.match(/^\/interaction\/([^/]+)(?:\/(login|cancel))?$/);
    if (step) {
      await interaction(req, res, step[1], step[2]);
      return;
    }
    handleProvider(req, res);
  } catch (err) {
    console.error(err);
    res.writeHead(500, { "Content-Type": "text/plain" }).end(String(err));
  }
});

process.stdout.write(`${JSON.stringify({ issuer })}\n`);
