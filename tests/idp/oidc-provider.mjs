// A real OpenID provider (npm's oidc-provider) for the SSO tests, on
// loopback. It listens on an ephemeral port and prints one JSON line with
// its issuer. Until the test posts /test/setup with its clients (their
// redirect URIs name connection ids scimlink has just made), every other
// request answers 503. Then it is a standard provider: discovery, PKCE
// required, code flow, RS256 ID tokens with email claims, and the RFC 9207
// `iss` response parameter.
//
// Test-only endpoints (not OpenID Connect):
//   POST /test/setup     {"clients": [{client_id, client_secret, redirect_uris}], "id_token_ttl": 300}
//   POST /test/accounts  {"sub", "email", "email_verified", "name", "preferred_username", ...}
//   GET  /test/login/:uid?sub=...   (the interaction URL) finishes the interaction (login and consent) as that account,
//                                   so no browser is needed; the resume cookies must be sent.
//   GET  /test/requests  how often the discovery document and the keys were read: {"discovery": n, "jwks": n}
//   POST /test/rotate-keys   signs from now on with a new key (a new kid), the only one it lists
//   POST /test/cache-control {"discovery": "max-age=60", "jwks": "no-store"}: the Cache-Control these answer with
//                            (none by default, as oidc-provider sends)
import http from 'node:http';
import crypto from 'node:crypto';
import Provider from 'oidc-provider';

const accounts = new Map();
let provider = null;
let lastSetup = null;
const requests = { discovery: 0, jwks: 0 };
const cacheControl = {};

function readBody(req) {
  return new Promise((resolve, reject) => {
    let data = '';
    req.on('data', (chunk) => {
      data += chunk;
      if (data.length > 1e6) reject(new Error('body too large'));
    });
    req.on('end', () => resolve(data ? JSON.parse(data) : {}));
    req.on('error', reject);
  });
}

function reply(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function signingKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: crypto.randomUUID(), alg: 'RS256', use: 'sig' };
}

function build(issuer, setup) {
  const p = new Provider(issuer, {
    clients: setup.clients.map((c) => ({
      client_id: c.client_id,
      client_secret: c.client_secret,
      redirect_uris: c.redirect_uris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    })),
    jwks: { keys: [signingKey()] },
    pkce: { required: () => true },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username', 'given_name', 'family_name'],
    },
    // Scope claims go into the ID token itself, as most providers do.
    conformIdTokenClaims: false,
    ttl: { IdToken: setup.id_token_ttl || 300, AccessToken: 300, AuthorizationCode: 60, Interaction: 600, Session: 600, Grant: 600 },
    cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
    features: { devInteractions: { enabled: false } },
    // The interaction cookies are scoped to this path, where the test login answers.
    interactions: { url: (ctx, interaction) => `/test/login/${interaction.uid}` },
    async findAccount(ctx, id) {
      const claims = accounts.get(id);
      if (!claims) return undefined;
      return { accountId: id, claims: async () => ({ ...claims, sub: id }) };
    },
  });
  p.on('server_error', (ctx, err) => console.error('oidc-provider server_error', err));
  return p;
}

async function finishLogin(req, res, url) {
  const details = await provider.interactionDetails(req, res);
  const sub = url.searchParams.get('sub');
  if (!accounts.has(sub)) return reply(res, 400, { error: `no test account ${sub}` });
  const grant = new provider.Grant({ accountId: sub, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  const grantId = await grant.save();
  const redirectTo = await provider.interactionResult(req, res, {
    login: { accountId: sub },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
  res.writeHead(303, { location: redirectTo });
  res.end();
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, `http://${req.headers.host}`);
    if (req.method === 'POST' && url.pathname === '/test/setup') {
      const setup = await readBody(req);
      lastSetup = setup;
      provider = build(issuer, setup);
      return reply(res, 200, { issuer });
    }
    if (req.method === 'GET' && url.pathname === '/test/requests') {
      return reply(res, 200, requests);
    }
    if (req.method === 'POST' && url.pathname === '/test/rotate-keys') {
      // Same clients, a new signing key; the sign-ins in flight are the test's to avoid.
      provider = build(issuer, lastSetup);
      return reply(res, 200, {});
    }
    if (req.method === 'POST' && url.pathname === '/test/cache-control') {
      Object.assign(cacheControl, await readBody(req));
      return reply(res, 200, cacheControl);
    }
    if (req.method === 'POST' && url.pathname === '/test/accounts') {
      const claims = await readBody(req);
      accounts.set(claims.sub, claims);
      return reply(res, 200, { sub: claims.sub });
    }
    const counted = { '/.well-known/openid-configuration': 'discovery', '/jwks': 'jwks' }[url.pathname];
    if (counted) {
      requests[counted] += 1;
      if (cacheControl[counted]) res.setHeader('cache-control', cacheControl[counted]);
    }
    if (!provider) return reply(res, 503, { error: 'POST /test/setup first' });
    if (req.method === 'GET' && url.pathname.startsWith('/test/login/')) {
      return await finishLogin(req, res, url);
    }
    return provider.callback()(req, res);
  } catch (err) {
    console.error(err);
    if (!res.headersSent) reply(res, 500, { error: String(err) });
  }
});

let issuer;
server.listen(0, '127.0.0.1', () => {
  issuer = `http://127.0.0.1:${server.address().port}`;
  console.log(JSON.stringify({ issuer }));
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
