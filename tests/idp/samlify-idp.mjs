// A SAML 2.0 identity provider for the SSO tests, on loopback, built on npm's
// samlify (which signs with xml-crypto). It listens on an ephemeral port and
// prints one JSON line: {"base_url", "entity_id"}. It has no login page: the
// test asks it for a Response and POSTs that to the service provider's ACS
// itself. Every Response is built from the template below and signed by
// samlify (sign=both|assertion|response); options let a test break it on
// purpose. Three RSA-2048 keys with self-signed certificates are made at
// start, in memory: `trusted`, `second` (another trusted one, for rotation)
// and `untrusted` (never published unless asked for).
//
// Endpoints (JSON answers unless said; errors are 400 {"error": "..."}):
//   GET  /metadata?certs=trusted,second   IdP metadata XML (application/samlmetadata+xml): one
//                                          <KeyDescriptor use="signing"> per named cert (default: trusted),
//                                          SingleSignOnService HTTP-Redirect and HTTP-POST at /sso
//   POST /sp  {"metadata_url"}            fetches and registers an SP's metadata (several may be registered)
//                                          -> {"sp_entity_id", "acs_url"}
//   GET  /sso?SAMLRequest=...&RelayState=...&<options>
//                                          takes the SP's AuthnRequest (HTTP-Redirect: deflated, base64,
//                                          signed with SigAlg and Signature by a signing key of the SP's
//                                          metadata); its Issuer must be a registered SP
//                                          -> {"acs_url", "SAMLResponse", "RelayState", "request_id", "sp_entity_id"}
//                                          SAMLResponse is the base64 Response XML to POST to acs_url: the
//                                          request's AssertionConsumerServiceURL (not checked against the SP's
//                                          metadata), else the metadata's HTTP-POST ACS.
//   GET  /slo?SAMLRequest=...|SAMLResponse=...&SigAlg=...&Signature=...
//                                          single logout (HTTP-Redirect): the SP's signed LogoutRequest,
//                                          checked -> {"kind", "request_id", "issuer", "name_id", "response_url"}
//                                          (response_url: a signed LogoutResponse to the SP), or its signed
//                                          LogoutResponse, checked -> {"kind", "issuer", "in_response_to",
//                                          "destination", "status"}
//   POST /logout-request  {"sp_entity_id", "name_id", "relay_state"?}
//                                          an IdP-initiated LogoutRequest to the SP, signed for HTTP-Redirect
//                                          -> {"url", "request_id"}
//   POST /idp-initiated  {"sp_entity_id", "relay_state"?, ...options}
//                                          the same answer for an unsolicited Response (no InResponseTo);
//                                          request_id is null
//
// Options (query parameters on /sso, JSON fields on /idp-initiated):
//   subject (required)            NameID value
//   name_id_format                default urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified
//   email, given_name, family_name, display_name
//                                 attributes "email", "firstName", "lastName", "displayName" (only when given)
//   sign=both|assertion|response|none   default both (Assertion signed, then the whole Response)
//   key=trusted|second|untrusted  default trusted
//   alg=sha256|sha1               RSA-SHA256 + SHA-256 digest (default) or RSA-SHA1 + SHA-1 digest
//   audience                      default the SP's entity id
//   destination                   Response Destination and SubjectConfirmationData Recipient; default the ACS URL
//   in_response_to                Response and SubjectConfirmationData InResponseTo; default the request's ID
//                                 (an empty value leaves the attribute out)
//   expired=1 (or true)           IssueInstant 1 h ago, NotBefore 1 h ago, NotOnOrAfter 30 min ago
//                                 (default: IssueInstant now, NotBefore 1 min ago, NotOnOrAfter in 5 min)
//   tamper=nameid, tamper_value   replaces the NameID text (default "attacker") after signing
//   encrypt=1                     the Assertion is signed (per sign), then encrypted (EncryptedAssertion,
//                                 RSA-OAEP-MGF1P key transport), then the Response signed (per sign)
//   enc_alg=aes256-cbc|aes128-gcm the content encryption (default aes256-cbc)
//   encrypt_to=sp|trusted|second|untrusted
//                                 the certificate encrypted to: the SP metadata's encryption key (default)
//                                 or one of this IdP's own
//
// samlify insists on a schema validator for the messages it parses; this one
// accepts everything, which is fine here: the only message it parses is the
// SP's AuthnRequest, and it never validates a Response.
import http from 'node:http';
import crypto from 'node:crypto';
import forge from 'node-forge';
import samlify from 'samlify';

const { IdentityProvider, ServiceProvider, Utility, Extractor, Constants } = samlify;

samlify.setSchemaValidator({ validate: async () => 'skipped' });

// samlify warns on every IdP it makes without a SingleLogoutService; this one
// has none on purpose.
const warn = console.warn;
console.warn = (...args) => {
  if (!String(args[0]).includes('missing endpoint of SingleLogoutService')) warn(...args);
};

const BINDING_POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const BINDING_REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const UNSPECIFIED = 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified';
const ALGORITHMS = {
  sha256: Constants.algorithms.signature.RSA_SHA256,
  sha1: Constants.algorithms.signature.RSA_SHA1,
};
const SIGN_MODES = new Set(['both', 'assertion', 'response', 'none']);
// enc_alg -> the content-encryption algorithm (the key goes by RSA-OAEP-MGF1P).
const ENCRYPTIONS = {
  'aes256-cbc': Constants.algorithms.encryption.data.AES_256,
  'aes128-gcm': 'http://www.w3.org/2009/xmlenc11#aes128-gcm',
};
const ATTRIBUTES = [
  ['email', 'email'],
  ['given_name', 'firstName'],
  ['family_name', 'lastName'],
  ['display_name', 'displayName'],
];

const RESPONSE_TEMPLATE =
  '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"' +
  ' ID="{ID}" Version="2.0" IssueInstant="{IssueInstant}" Destination="{Destination}" InResponseTo="{InResponseTo}">' +
  '<saml:Issuer>{Issuer}</saml:Issuer>' +
  '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>' +
  '<saml:Assertion xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema"' +
  ' ID="{AssertionID}" Version="2.0" IssueInstant="{IssueInstant}">' +
  '<saml:Issuer>{Issuer}</saml:Issuer>' +
  '<saml:Subject>' +
  '<saml:NameID Format="{NameIDFormat}">{NameID}</saml:NameID>' +
  '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">' +
  '<saml:SubjectConfirmationData NotOnOrAfter="{SubjectConfirmationDataNotOnOrAfter}" Recipient="{Destination}" InResponseTo="{InResponseTo}"/>' +
  '</saml:SubjectConfirmation>' +
  '</saml:Subject>' +
  '<saml:Conditions NotBefore="{ConditionsNotBefore}" NotOnOrAfter="{ConditionsNotOnOrAfter}">' +
  '<saml:AudienceRestriction><saml:Audience>{Audience}</saml:Audience></saml:AudienceRestriction>' +
  '</saml:Conditions>' +
  '<saml:AuthnStatement AuthnInstant="{IssueInstant}" SessionIndex="{SessionIndex}">' +
  '<saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext>' +
  '</saml:AuthnStatement>' +
  '{AttributeStatementXml}' +
  '</saml:Assertion>' +
  '</samlp:Response>';

const ATTRIBUTE_TEMPLATE =
  '<saml:Attribute Name="{Name}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">' +
  '<saml:AttributeValue xsi:type="xs:string">{Value}</saml:AttributeValue></saml:Attribute>';

class BadRequest extends Error {}

function newId() {
  return '_' + crypto.randomBytes(20).toString('hex');
}

// An RSA-2048 key (made by node:crypto, which is quick) and a self-signed
// certificate for it (made by node-forge).
function makeKey(name) {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs1', format: 'pem' });
  const forgeKey = forge.pki.privateKeyFromPem(keyPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e);
  cert.serialNumber = '01' + crypto.randomBytes(15).toString('hex');
  cert.validity.notBefore = new Date(Date.now() - 24 * 3600 * 1000);
  cert.validity.notAfter = new Date(Date.now() + 10 * 365 * 24 * 3600 * 1000);
  const attrs = [{ name: 'commonName', value: `samlify test IdP (${name})` }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.sign(forgeKey, forge.md.sha256.create());
  return { keyPem, certPem: forge.pki.certificateToPem(cert) };
}

const keys = {
  trusted: makeKey('trusted'),
  second: makeKey('second'),
  untrusted: makeKey('untrusted'),
};

let baseUrl;
let entityId;
const sps = new Map(); // SP entity id -> samlify ServiceProvider made from its metadata
const idps = new Map(); // cached IdentityProvider instances

function ssoServices() {
  return [
    { Binding: BINDING_REDIRECT, Location: `${baseUrl}/sso` },
    { Binding: BINDING_POST, Location: `${baseUrl}/sso` },
  ];
}

// The IdP published with the given certificates (its metadata) or signing with
// one key and algorithm. samlify reads the signing certificate from the IdP's
// own metadata, so each key has its own instance.
function idpFor(certNames, keyName = certNames[0], alg = 'sha256', encAlg = null) {
  const cacheKey = `${certNames.join(',')}|${keyName}|${alg}|${encAlg}`;
  if (!idps.has(cacheKey)) {
    idps.set(cacheKey, IdentityProvider({
      singleLogoutService: [{ Binding: BINDING_REDIRECT, Location: `${baseUrl}/slo` }],
      // Logout messages either way carry an HTTP-Redirect signature.
      wantLogoutRequestSigned: true,
      wantLogoutResponseSigned: true,
      isAssertionEncrypted: encAlg !== null,
      ...(encAlg !== null ? {
        dataEncryptionAlgorithm: ENCRYPTIONS[encAlg],
        keyEncryptionAlgorithm: Constants.algorithms.encryption.key.RSA_OAEP_MGF1P,
      } : {}),
      entityID: entityId,
      signingCert: certNames.map((n) => keys[n].certPem),
      privateKey: keys[keyName].keyPem,
      requestSignatureAlgorithm: ALGORITHMS[alg],
      // AuthnRequests must carry an HTTP-Redirect signature by the SP
      // metadata's signing key.
      wantAuthnRequestsSigned: true,
      singleSignOnService: ssoServices(),
      loginResponseTemplate: { context: RESPONSE_TEMPLATE, attributes: [] },
      generateID: newId,
    }));
  }
  return idps.get(cacheKey);
}

function metadataXml(url) {
  const names = (url.searchParams.get('certs') || 'trusted').split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new BadRequest('certs names no certificate');
  for (const n of names) {
    if (!keys[n]) throw new BadRequest(`unknown cert ${n} (trusted, second, untrusted)`);
  }
  return idpFor(names).getMetadata();
}

async function registerSp(body) {
  if (!body.metadata_url) throw new BadRequest('metadata_url is required');
  let res;
  try {
    res = await fetch(body.metadata_url);
  } catch (err) {
    throw new BadRequest(`fetching ${body.metadata_url}: ${err.cause?.message || err.message || err}`);
  }
  if (!res.ok) throw new BadRequest(`fetching ${body.metadata_url}: HTTP ${res.status}`);
  const metadata = await res.text();
  let sp;
  try {
    // samlify signs what it sends an SP when the SP's settings ask.
    sp = ServiceProvider({ metadata, wantLogoutRequestSigned: true, wantLogoutResponseSigned: true });
  } catch (err) {
    throw new BadRequest(`samlify could not read the SP metadata: ${err.message || err}`);
  }
  const spEntityId = sp.entityMeta.getEntityID();
  const acsUrl = sp.entityMeta.getAssertionConsumerService('post');
  if (!spEntityId) throw new BadRequest('the SP metadata has no entityID');
  sps.set(spEntityId, sp);
  return { sp_entity_id: spEntityId, acs_url: acsUrl ?? null };
}

function flag(v) {
  return v === true || v === 1 || v === '1' || v === 'true';
}

function encryption(name) {
  if (!ENCRYPTIONS[name]) throw new BadRequest(`enc_alg must be aes256-cbc or aes128-gcm, not ${name}`);
  return name;
}

// The certificate (PEM) an assertion is encrypted to: the SP's published
// encryption key, or one of this IdP's own (a key the SP does not hold).
function encryptCertFor(sp, o) {
  if (o.encryptTo !== 'sp') {
    if (!keys[o.encryptTo]) throw new BadRequest(`encrypt_to must be sp, trusted, second or untrusted, not ${o.encryptTo}`);
    return keys[o.encryptTo].certPem;
  }
  const cert = sp.entityMeta.getX509Certificate('encryption');
  if (!cert) throw new BadRequest('the SP metadata has no encryption key');
  return `-----BEGIN CERTIFICATE-----\n${cert}\n-----END CERTIFICATE-----`;
}

function readOptions(o) {
  const opt = (name) => (o[name] === undefined || o[name] === null ? undefined : String(o[name]));
  if (!opt('subject')) throw new BadRequest('subject is required');
  const sign = opt('sign') ?? 'both';
  if (!SIGN_MODES.has(sign)) throw new BadRequest(`sign must be both, assertion, response or none, not ${sign}`);
  const key = opt('key') ?? 'trusted';
  if (!keys[key]) throw new BadRequest(`key must be trusted, second or untrusted, not ${key}`);
  const alg = opt('alg') ?? 'sha256';
  if (!ALGORITHMS[alg]) throw new BadRequest(`alg must be sha256 or sha1, not ${alg}`);
  const tamper = opt('tamper');
  if (tamper !== undefined && tamper !== 'nameid') throw new BadRequest(`tamper must be nameid, not ${tamper}`);
  const attributes = [];
  for (const [field, name] of ATTRIBUTES) {
    if (opt(field) !== undefined) attributes.push([name, opt(field)]);
  }
  return {
    subject: opt('subject'),
    nameIdFormat: opt('name_id_format') ?? UNSPECIFIED,
    attributes,
    sign,
    key,
    alg,
    audience: opt('audience'),
    destination: opt('destination'),
    inResponseTo: opt('in_response_to'),
    expired: flag(o.expired),
    tamper,
    tamperValue: opt('tamper_value') ?? 'attacker',
    encAlg: flag(o.encrypt) ? encryption(opt('enc_alg') ?? 'aes256-cbc') : null,
    encryptTo: opt('encrypt_to') ?? 'sp',
  };
}

function xmlEscape(v) {
  return String(v).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]);
}

// Fills {Tag}s in one pass (so a value that looks like a tag stays as it is),
// escaping every value; an attribute whose value is null is left out.
function fill(template, values, raw = {}) {
  return template
    .replace(/\s+[\w:]+="\{(\w+)\}"/g, (m, tag) => (tag in values && values[tag] === null ? '' : m))
    .replace(/\{(\w+)\}/g, (m, tag) => (tag in raw ? raw[tag] : tag in values ? xmlEscape(values[tag]) : m));
}

function attributeStatement(attributes) {
  if (attributes.length === 0) return '';
  const inner = attributes.map(([Name, Value]) => fill(ATTRIBUTE_TEMPLATE, { Name, Value })).join('');
  return `<saml:AttributeStatement>${inner}</saml:AttributeStatement>`;
}

// The template values for one Response. A null InResponseTo leaves the
// attribute out.
function tagValues(sp, acsUrl, requestId, o) {
  const now = Date.now();
  const at = (offsetMs) => new Date(now + offsetMs).toISOString();
  const min = 60 * 1000;
  const inResponseTo = o.inResponseTo !== undefined ? o.inResponseTo || null : requestId;
  return {
    ID: newId(),
    AssertionID: newId(),
    SessionIndex: newId(),
    Issuer: entityId,
    IssueInstant: o.expired ? at(-60 * min) : at(0),
    Destination: o.destination ?? acsUrl,
    InResponseTo: inResponseTo,
    NameIDFormat: o.nameIdFormat,
    NameID: o.subject,
    Audience: o.audience ?? sp.entityMeta.getEntityID(),
    ConditionsNotBefore: o.expired ? at(-60 * min) : at(-1 * min),
    ConditionsNotOnOrAfter: o.expired ? at(-30 * min) : at(5 * min),
    SubjectConfirmationDataNotOnOrAfter: o.expired ? at(-30 * min) : at(5 * min),
  };
}

async function buildResponse(sp, acsUrl, requestInfo, o) {
  const requestId = requestInfo?.extract?.request?.id ?? null;
  const values = tagValues(sp, acsUrl, requestId, o);
  const render = (template) => ({
    id: values.ID,
    context: fill(template, values, { AttributeStatementXml: attributeStatement(o.attributes) }),
  });
  let xml;
  if (o.sign === 'none') {
    xml = render(RESPONSE_TEMPLATE).context;
  } else {
    // samlify signs the Assertion when the SP's metadata says
    // WantAssertionsSigned="true", then the Response when the SP setting
    // wantMessageSigned is on or the SP does not want signed assertions. So the
    // signing is driven by an SP made for this request with those two settings
    // (its entity id and ACS are the registered SP's; the template fills in
    // every value anyway).
    const signingSp = ServiceProvider({
      entityID: sp.entityMeta.getEntityID(),
      assertionConsumerService: [{ Binding: BINDING_POST, Location: acsUrl }],
      wantAssertionsSigned: o.sign === 'both' || o.sign === 'assertion',
      wantMessageSigned: o.sign === 'both',
      ...(o.encAlg !== null ? { encryptCert: encryptCertFor(sp, o) } : {}),
    });
    const idp = idpFor([o.key], o.key, o.alg, o.encAlg);
    // With encryption: the Assertion signed, then encrypted, then the Response signed.
    const { context } = await idp.createLoginResponse(signingSp, requestInfo ?? {}, 'post', { email: o.subject }, render, o.encAlg !== null);
    xml = Utility.base64Decode(context);
  }
  if (o.tamper === 'nameid') {
    xml = xml.replace(/(<saml:NameID\b[^>]*>)[^<]*(<\/saml:NameID>)/, (_m, open, close) => open + xmlEscape(o.tamperValue) + close);
  }
  return Buffer.from(xml, 'utf8').toString('base64');
}

// SAML bindings 3.4.4.1: the signature covers SAMLRequest, RelayState and
// SigAlg exactly as they were sent (URL-encoded), in that order.
function signedOctets(url, parameter = 'SAMLRequest') {
  const raw = new Map(
    url.search.replace(/^\?/, '').split('&').filter(Boolean).map((pair) => {
      const at = pair.indexOf('=');
      return at < 0 ? [pair, ''] : [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
  return [parameter, 'RelayState', 'SigAlg']
    .filter((k) => raw.has(k))
    .map((k) => `${k}=${raw.get(k)}`)
    .join('&');
}

async function sso(url) {
  const samlRequest = url.searchParams.get('SAMLRequest');
  if (!samlRequest) throw new BadRequest('SAMLRequest is required');
  const relayState = url.searchParams.get('RelayState');
  const o = readOptions(Object.fromEntries(url.searchParams));
  // Find the SP by the request's Issuer first: samlify's parser wants the SP.
  let issuer;
  try {
    const xml = Utility.inflateString(samlRequest);
    issuer = Extractor.extract(xml, Extractor.loginRequestFields).issuer;
  } catch (err) {
    throw new BadRequest(`SAMLRequest is not a deflated, base64 AuthnRequest: ${err.message || err}`);
  }
  const sp = sps.get(issuer);
  if (!sp) throw new BadRequest(`the AuthnRequest's Issuer ${JSON.stringify(issuer ?? null)} is not a registered SP`);
  let requestInfo;
  try {
    requestInfo = await idpFor(['trusted']).parseLoginRequest(sp, 'redirect', {
      query: {
        SAMLRequest: samlRequest,
        ...(relayState !== null ? { RelayState: relayState } : {}),
        ...(url.searchParams.has('SigAlg') ? { SigAlg: url.searchParams.get('SigAlg') } : {}),
        ...(url.searchParams.has('Signature') ? { Signature: url.searchParams.get('Signature') } : {}),
      },
      octetString: signedOctets(url),
    });
  } catch (err) {
    throw new BadRequest(`samlify rejected the AuthnRequest: ${err.message || err}`);
  }
  const request = requestInfo.extract.request || {};
  if (!request.id) throw new BadRequest('the AuthnRequest has no ID');
  const acsUrl = request.assertionConsumerServiceUrl || sp.entityMeta.getAssertionConsumerService('post');
  if (!acsUrl) throw new BadRequest('no ACS URL in the AuthnRequest nor an HTTP-POST one in the SP metadata');
  return {
    acs_url: acsUrl,
    SAMLResponse: await buildResponse(sp, acsUrl, requestInfo, o),
    RelayState: relayState,
    request_id: request.id,
    sp_entity_id: issuer,
  };
}

async function idpInitiated(body) {
  const sp = sps.get(body.sp_entity_id);
  if (!sp) throw new BadRequest(`${JSON.stringify(body.sp_entity_id ?? null)} is not a registered SP`);
  const o = readOptions(body);
  const acsUrl = sp.entityMeta.getAssertionConsumerService('post');
  if (!acsUrl) throw new BadRequest('the SP metadata has no HTTP-POST ACS');
  return {
    acs_url: acsUrl,
    SAMLResponse: await buildResponse(sp, acsUrl, null, o),
    RelayState: body.relay_state ?? null,
    request_id: null,
    sp_entity_id: body.sp_entity_id,
  };
}

function spOfMessage(encoded) {
  let xml;
  try {
    xml = Utility.inflateString(encoded);
  } catch (err) {
    throw new BadRequest(`not a deflated, base64 message: ${err.message || err}`);
  }
  const issuer = (/<(?:\w+:)?Issuer[^>]*>([^<]*)</.exec(xml) || [])[1];
  const sp = sps.get(issuer);
  if (!sp) throw new BadRequest(`the message's Issuer ${JSON.stringify(issuer ?? null)} is not a registered SP`);
  return { sp, issuer, xml };
}

function redirectQuery(url, parameter) {
  const query = { [parameter]: url.searchParams.get(parameter) };
  for (const k of ['RelayState', 'SigAlg', 'Signature']) {
    if (url.searchParams.has(k)) query[k] = url.searchParams.get(k);
  }
  return { query, octetString: signedOctets(url, parameter) };
}

// Single logout over HTTP-Redirect: the SP's signed LogoutRequest (checked,
// answered with a signed LogoutResponse URL) or its LogoutResponse (checked).
async function slo(url) {
  const idp = idpFor(['trusted']);
  if (url.searchParams.get('SAMLRequest')) {
    const { sp, issuer } = spOfMessage(url.searchParams.get('SAMLRequest'));
    let info;
    try {
      info = await idp.parseLogoutRequest(sp, 'redirect', redirectQuery(url, 'SAMLRequest'));
    } catch (err) {
      throw new BadRequest(`samlify refused the LogoutRequest: ${err.message || err}`);
    }
    const { context } = idp.createLogoutResponse(sp, info, 'redirect', url.searchParams.get('RelayState') ?? '');
    return {
      kind: 'LogoutRequest',
      request_id: info.extract.request?.id ?? null,
      issuer,
      name_id: info.extract.nameID ?? null,
      response_url: context,
    };
  }
  if (url.searchParams.get('SAMLResponse')) {
    const { sp, issuer, xml } = spOfMessage(url.searchParams.get('SAMLResponse'));
    try {
      await idp.parseLogoutResponse(sp, 'redirect', redirectQuery(url, 'SAMLResponse'));
    } catch (err) {
      throw new BadRequest(`samlify refused the LogoutResponse: ${err.message || err}`);
    }
    const attr = (name) => (new RegExp(`\\b${name}="([^"]*)"`).exec(xml) || [])[1] ?? null;
    return {
      kind: 'LogoutResponse',
      issuer,
      in_response_to: attr('InResponseTo'),
      destination: attr('Destination'),
      status: (/StatusCode[^>]*\bValue="([^"]*)"/.exec(xml) || [])[1] ?? null,
    };
  }
  throw new BadRequest('SAMLRequest or SAMLResponse is required');
}

// An IdP-initiated LogoutRequest for the SP, signed for HTTP-Redirect.
function logoutRequest(body) {
  const sp = sps.get(body.sp_entity_id);
  if (!sp) throw new BadRequest(`${JSON.stringify(body.sp_entity_id ?? null)} is not a registered SP`);
  if (!body.name_id) throw new BadRequest('name_id is required');
  const { id, context } = idpFor(['trusted']).createLogoutRequest(
    sp, 'redirect', { logoutNameID: String(body.name_id) }, body.relay_state ?? '',
  );
  return { url: context, request_id: id };
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    let data = '';
    req.on('data', (chunk) => {
      data += chunk;
      if (data.length > 1e6) reject(new BadRequest('body too large'));
    });
    req.on('end', () => {
      try {
        resolve(data ? JSON.parse(data) : {});
      } catch {
        reject(new BadRequest('the body is not JSON'));
      }
    });
    req.on('error', reject);
  });
}

function reply(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, baseUrl);
    if (req.method === 'GET' && url.pathname === '/metadata') {
      const xml = metadataXml(url);
      res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' });
      return res.end(xml);
    }
    if (req.method === 'POST' && url.pathname === '/sp') {
      return reply(res, 200, await registerSp(await readBody(req)));
    }
    if (req.method === 'GET' && url.pathname === '/sso') {
      return reply(res, 200, await sso(url));
    }
    if (req.method === 'POST' && url.pathname === '/idp-initiated') {
      return reply(res, 200, await idpInitiated(await readBody(req)));
    }
    if (req.method === 'GET' && url.pathname === '/slo') {
      return reply(res, 200, await slo(url));
    }
    if (req.method === 'POST' && url.pathname === '/logout-request') {
      return reply(res, 200, logoutRequest(await readBody(req)));
    }
    return reply(res, 404, { error: `no ${req.method} ${url.pathname}` });
  } catch (err) {
    if (!(err instanceof BadRequest)) console.error(err);
    if (!res.headersSent) reply(res, err instanceof BadRequest ? 400 : 500, { error: err.message || String(err) });
  }
});

server.listen(0, '127.0.0.1', () => {
  baseUrl = `http://127.0.0.1:${server.address().port}`;
  entityId = `${baseUrl}/metadata`;
  console.log(JSON.stringify({ base_url: baseUrl, entity_id: entityId }));
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
