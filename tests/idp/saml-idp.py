"""A real SAML 2.0 identity provider (PyPI's pysaml2, signing with xmlsec1)
for the SSO tests, on loopback. It listens on an ephemeral port of 127.0.0.1
and prints one JSON line, {"base_url": ..., "entity_id": ...}; everything
else it says goes to stderr. It exits when its standard input closes.

At start it makes three RSA-2048 key pairs with self-signed certificates, in
a temporary folder removed at exit: `trusted` (the IdP's usual key),
`second` (another trusted one, for key rotation) and `untrusted` (one no
metadata names, for forged responses).

There is no login page: the test names the person in the request and gets
the SAML Response back as JSON, exactly as the browser would POST it to the
service provider's assertion consumer service.

Endpoints (JSON unless said; an error is 400 {"error": "..."}):
  GET  /metadata?certs=trusted,second   the IdP's metadata XML (application/samlmetadata+xml);
                                        one signing KeyDescriptor per named cert, default `trusted`
  POST /sp  {"metadata_url"}             fetches the SP's metadata and registers the SP with pysaml2
                                        (re-registering an entity id replaces it);
                                        answers {"sp_entity_id", "acs_url"} as pysaml2 read them
  GET  /sso?SAMLRequest=...&RelayState=...&SigAlg=...&Signature=...&<options>
                                        the HTTP-Redirect binding: checks the AuthnRequest's signature
                                        (pysaml2's want_authn_requests_signed, with the SP metadata's
                                        signing certificates), parses it and
                                        answers {"acs_url", "SAMLResponse", "RelayState", "request_id",
                                        "sp_entity_id"}, SAMLResponse being base64 of the Response XML
  POST /idp-initiated  {"sp_entity_id", "relay_state"?, <options>}
                                        the same answer for an unsolicited response (no InResponseTo)
  GET  /slo?SAMLRequest=...&SigAlg=...&Signature=...
                                        single logout (HTTP-Redirect): pysaml2 checks the SP's signed
                                        LogoutRequest and answers {"kind", "request_id", "issuer", "name_id",
                                        "session_indexes", "response_url"}, response_url carrying its signed
                                        LogoutResponse to the SP's SingleLogoutService
  GET  /slo?SAMLResponse=...&SigAlg=...&Signature=...
                                        the SP's LogoutResponse, its signature checked against the SP
                                        metadata's signing certificates: {"kind", "issuer", "in_response_to",
                                        "destination", "status"}
  POST /logout-request  {"sp_entity_id", "name_id", "name_id_format"?, "session_indexes"?, "relay_state"?,
                         "expired"?, "binding"?, "sign"?, "tamper"?}
                                        an IdP-initiated LogoutRequest to the SP's SingleLogoutService,
                                        signed for HTTP-Redirect: {"url", "request_id"}; with "binding": "post",
                                        signed in the XML (unless "sign": false; "tamper": "nameid" then
                                        changes the NameID) for the SP's HTTP-POST SingleLogoutService:
                                        {"slo_url", "SAMLRequest", "RelayState", "request_id"}

Options (query parameters on /sso, JSON fields on /idp-initiated):
  subject           the NameID value (required)
  name_id_format    default urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified
  email, given_name, family_name, display_name
                    attributes "email", "firstName", "lastName", "displayName" (NameFormat basic),
                    each only when given
  attribute_names   plain (default: the names above) | mace | oid: the names pysaml2's own
                    attribute maps give mail, givenName, sn and displayName, as Shibboleth and
                    pysaml2 IdPs send them: urn:mace:dir:attribute-def:mail ... (NameFormat basic)
                    or urn:oid:0.9.2342.19200300.100.1.3 ... (NameFormat uri)
  sign              both (default: the Assertion, then the Response) | assertion | response | none
  key               trusted (default) | second | untrusted: the key that signs; its certificate is
                    the signature's KeyInfo
  alg               sha256 (default: RSA-SHA256 and SHA-256 digests) | sha1 (RSA-SHA1 and SHA-1)
  audience          the Audience (default: the SP's entity id)
  destination       the Response's Destination and the SubjectConfirmationData's Recipient
                    (default: the ACS URL)
  in_response_to    InResponseTo on the Response and the SubjectConfirmationData (default: the
                    AuthnRequest's ID; none on /idp-initiated)
  expired=1         IssueInstant 1 hour ago, NotBefore 1 hour ago, NotOnOrAfter 30 minutes ago
                    (otherwise IssueInstant now, NotBefore 1 minute ago, NotOnOrAfter in 5 minutes)
  encrypt=1         the Assertion is signed (per sign), then encrypted by xmlsec1 into an
                    EncryptedAssertion (RSA-OAEP-MGF1P key transport), then the Response signed
                    (per sign)
  enc_alg           aes256-cbc (default) | aes128-gcm: the content encryption
  encrypt_to        sp (default: the SP metadata's encryption key) | trusted | second | untrusted
                    (one of this IdP's own certificates, a key the SP does not hold)
  tamper            nameid: after signing, the NameID becomes tamper_value (default "attacker");
                    wrap: signature wrapping, the Response's first Assertion is an unsigned copy of
                    the signed one with a new ID and NameID tamper_value, the second the signed one;
                    wrap_inside: the unsigned copy is the only Assertion, the signed one sits in its
                    Advice. Both wraps sign the Assertion only (sign=assertion, the default for them).

pysaml2 reads the SP's metadata and AuthnRequest and builds the Response
(create_authn_response, unsigned). The times and the Audience are then set
on that Response object, pysaml2's pre_signature_part adds the signature
templates (enveloped, exclusive c14n, after Issuer) and
SecurityContext.sign_statement signs with xmlsec1, the Assertion first. Only
the tamper options edit the signed XML.

Run it as: tests/idp/.venv/bin/python tests/idp/saml-idp.py (tests/idp/setup.sh makes the venv).
"""

import base64
import datetime
import json
import os
import shutil
import signal
import sys
import tempfile
import textwrap
import threading
import urllib.error
import urllib.parse
import urllib.request
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.dom import minidom

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID

# pysaml2 imports cipher modes that cryptography has deprecated: not our concern.
warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning)

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, md, saml, samlp, xmldsig  # noqa: E402
from saml2.assertion import Policy  # noqa: E402
from saml2.attribute_converter import AttributeConverter, ac_factory  # noqa: E402
from saml2.authn_context import PASSWORDPROTECTEDTRANSPORT  # noqa: E402
from saml2.config import IdPConfig  # noqa: E402
from saml2.md import EntityDescriptor  # noqa: E402
from saml2.mdstore import InMemoryMetaData  # noqa: E402
from saml2.metadata import do_idpsso_descriptor  # noqa: E402
from saml2.s_utils import sid  # noqa: E402
from saml2.server import Server  # noqa: E402
from saml2.sigver import ASSERT_XPATH, pre_encryption_part, pre_signature_part, verify_redirect_signature  # noqa: E402
from saml2.xmldsig import DIGEST_SHA1, DIGEST_SHA256, SIG_RSA_SHA1, SIG_RSA_SHA256  # noqa: E402

KEY_NAMES = ("trusted", "second", "untrusted")
ALGS = {"sha256": (SIG_RSA_SHA256, DIGEST_SHA256), "sha1": (SIG_RSA_SHA1, DIGEST_SHA1)}
SIGN_MODES = ("both", "assertion", "response", "none")
TAMPERS = ("nameid", "wrap", "wrap_inside")
# enc_alg -> (EncryptionMethod, xmlsec1's --session-key)
ENCRYPTIONS = {
    "aes256-cbc": ("http://www.w3.org/2001/04/xmlenc#aes256-cbc", "aes-256"),
    "aes128-gcm": ("http://www.w3.org/2009/xmlenc11#aes128-gcm", "aes-128"),
}
# Option name -> SAML Attribute Name.
ATTRIBUTES = {
    "email": "email",
    "given_name": "firstName",
    "family_name": "lastName",
    "display_name": "displayName",
}
# Option name -> the LDAP name pysaml2's attribute maps (saml2/attributemaps)
# turn into urn:mace:dir:attribute-def:<name> or its urn:oid: form.
LDAP_NAMES = {
    "email": "mail",
    "given_name": "givenName",
    "family_name": "sn",
    "display_name": "displayName",
}
# attribute_names option -> the NameFormat pysaml2's maps are chosen by.
NAMINGS = {"plain": None, "mace": saml.NAME_FORMAT_BASIC, "oid": saml.NAME_FORMAT_URI}
# The usual prefixes, for readable XML.
PREFIXES = {"md": md.NAMESPACE, "saml": saml.NAMESPACE, "samlp": samlp.NAMESPACE, "ds": xmldsig.NAMESPACE}


def log(*args):
    print("saml-idp:", *args, file=sys.stderr, flush=True)


class BadRequest(Exception):
    pass


class KeyPair:
    """An RSA-2048 key and a self-signed certificate, written as PEM files."""

    def __init__(self, folder, name):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"saml-idp test {name}")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .sign(key, hashes.SHA256())
        )
        self.key_file = os.path.join(folder, f"{name}.key")
        self.cert_file = os.path.join(folder, f"{name}.crt")
        with open(self.key_file, "wb") as f:
            f.write(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.TraditionalOpenSSL,
                    serialization.NoEncryption(),
                )
            )
        with open(self.cert_file, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        # The certificate's base64 (DER), as in <ds:X509Certificate>.
        self.cert_b64 = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


class ReleaseEverything(Policy):
    """A release policy that gives every SP every attribute the test asked for,
    whatever its metadata requests, in the NameFormat given (basic by default)."""

    def __init__(self, name_form=saml.NAME_FORMAT_BASIC):
        super().__init__()
        self.name_form = name_form

    def restrict(self, ava, sp_entity_id, metadata=None):
        return dict(ava)

    def get_name_form(self, sp_entity_id):
        return self.name_form


def attribute_converter():
    """Local names are the SAML Attribute Names themselves."""
    conv = AttributeConverter()
    names = {name: name for name in ATTRIBUTES.values()}
    conv.from_dict({"identifier": saml.NAME_FORMAT_BASIC, "to": names, "fro": names})
    return conv


def instant(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def one(value):
    """pysaml2 keeps some single children as lists."""
    return value[0] if isinstance(value, list) else value


class IdP:
    def __init__(self, base_url, folder):
        self.base_url = base_url
        self.entity_id = f"{base_url}/metadata"
        self.keys = {name: KeyPair(folder, name) for name in KEY_NAMES}
        self.sp_metadata = {}  # SP entity id -> its metadata XML
        self.lock = threading.Lock()
        self.server = self._build_server()

    def _config(self):
        sso = f"{self.base_url}/sso"
        conf = IdPConfig()
        conf.load(
            {
                "entityid": self.entity_id,
                "service": {
                    "idp": {
                        "name": "scimlink test IdP",
                        "endpoints": {
                            "single_sign_on_service": [
                                (sso, BINDING_HTTP_REDIRECT),
                                (sso, BINDING_HTTP_POST),
                            ],
                            "single_logout_service": [
                                (f"{self.base_url}/slo", BINDING_HTTP_REDIRECT),
                            ],
                        },
                        # AuthnRequests must carry an HTTP-Redirect signature
                        # by a signing key of the SP's metadata.
                        "want_authn_requests_signed": True,
                        "name_id_format": [
                            saml.NAMEID_FORMAT_UNSPECIFIED,
                            saml.NAMEID_FORMAT_EMAILADDRESS,
                            saml.NAMEID_FORMAT_PERSISTENT,
                        ],
                    },
                },
                "key_file": self.keys["trusted"].key_file,
                "cert_file": self.keys["trusted"].cert_file,
                "metadata_key_usage": "signing",
                "xmlsec_binary": shutil.which("xmlsec1"),
                "metadata": {"inline": list(self.sp_metadata.values())},
                "accepted_time_diff": 60,
            }
        )
        return conf

    def _build_server(self):
        server = Server(config=self._config())
        server.config.attribute_converters = [attribute_converter()]
        return server

    # --- metadata -----------------------------------------------------------

    def metadata(self, cert_names):
        for name in cert_names:
            if name not in self.keys:
                raise BadRequest(f"unknown cert {name!r} (known: {', '.join(KEY_NAMES)})")
        certs = [self.keys[name].cert_b64 for name in cert_names]
        with self.lock:
            idpsso = do_idpsso_descriptor(self.server.config, cert=certs)
        entity = EntityDescriptor(entity_id=self.entity_id, idpsso_descriptor=idpsso)
        return entity.to_string(PREFIXES).decode("utf-8")

    # --- service providers --------------------------------------------------

    def register_sp(self, metadata_url):
        if not metadata_url:
            raise BadRequest("metadata_url is required")
        try:
            with urllib.request.urlopen(metadata_url, timeout=10) as resp:
                xml = resp.read().decode("utf-8")
        except (urllib.error.URLError, OSError, UnicodeDecodeError) as exc:
            raise BadRequest(f"cannot fetch {metadata_url}: {exc}") from exc
        # pysaml2 reads the document; it must describe exactly one SP.
        probe = InMemoryMetaData(None, xml)
        try:
            probe.load()
        except Exception as exc:
            raise BadRequest(f"pysaml2 cannot read the SP metadata: {exc}") from exc
        entity_ids = [eid for eid, ent in probe.items() if ent.get("spsso_descriptor")]
        if len(entity_ids) != 1:
            raise BadRequest(f"the metadata must hold one SPSSODescriptor entity, found {len(entity_ids)}")
        sp_entity_id = entity_ids[0]
        with self.lock:
            previous = dict(self.sp_metadata)
            self.sp_metadata[sp_entity_id] = xml
            try:
                self.server = self._build_server()
                _, acs_url = self.server.pick_binding(
                    "assertion_consumer_service", [BINDING_HTTP_POST], "spsso", entity_id=sp_entity_id
                )
            except Exception as exc:
                self.sp_metadata = previous
                self.server = self._build_server()
                raise BadRequest(f"pysaml2 rejected the SP metadata: {exc}") from exc
        log(f"registered SP {sp_entity_id}, ACS {acs_url}")
        return {"sp_entity_id": sp_entity_id, "acs_url": acs_url}

    # --- responses ----------------------------------------------------------

    def sso(self, saml_request, relay_state, opts):
        if not saml_request:
            raise BadRequest("SAMLRequest is required")
        with self.lock:
            try:
                req = self.server.parse_authn_request(
                    saml_request,
                    BINDING_HTTP_REDIRECT,
                    relay_state=relay_state,
                    sigalg=opts.get("SigAlg"),
                    signature=opts.get("Signature"),
                )
            except Exception as exc:
                raise BadRequest(f"pysaml2 cannot parse the AuthnRequest: {exc!r}") from exc
            if req is None or req.message is None:
                raise BadRequest("pysaml2 cannot parse the AuthnRequest")
            message = req.message
            issuer = message.issuer.text.strip() if message.issuer is not None and message.issuer.text else None
            if issuer not in self.sp_metadata:
                raise BadRequest(f"the AuthnRequest's Issuer {issuer!r} is not a registered SP")
            try:
                args = self.server.response_args(message, [BINDING_HTTP_POST])
            except Exception as exc:
                raise BadRequest(f"no HTTP-POST assertion consumer service for the request: {exc}") from exc
            in_response_to = opts.get("in_response_to") or message.id
            xml = self._response(issuer, args["destination"], in_response_to, opts)
        return self._answer(issuer, args["destination"], xml, relay_state, message.id)

    def idp_initiated(self, body):
        sp_entity_id = body.get("sp_entity_id")
        with self.lock:
            if sp_entity_id not in self.sp_metadata:
                raise BadRequest(f"sp_entity_id {sp_entity_id!r} is not a registered SP")
            _, acs_url = self.server.pick_binding(
                "assertion_consumer_service", [BINDING_HTTP_POST], "spsso", entity_id=sp_entity_id
            )
            xml = self._response(sp_entity_id, acs_url, body.get("in_response_to") or None, body)
        return self._answer(sp_entity_id, acs_url, xml, body.get("relay_state"), None)

    # --- single logout -------------------------------------------------------

    def slo(self, query):
        """The SP's LogoutRequest (checked and answered) or LogoutResponse
        (its signature checked), over the HTTP-Redirect binding."""
        if query.get("SAMLRequest"):
            with self.lock:
                try:
                    req = self.server.parse_logout_request(
                        query["SAMLRequest"],
                        BINDING_HTTP_REDIRECT,
                        relay_state=query.get("RelayState"),
                        sigalg=query.get("SigAlg"),
                        signature=query.get("Signature"),
                    )
                except Exception as exc:
                    raise BadRequest(f"pysaml2 refused the LogoutRequest: {exc!r}") from exc
                if req is None or req.message is None:
                    raise BadRequest("pysaml2 cannot parse the LogoutRequest")
                message = req.message
                response = self.server.create_logout_response(message, [BINDING_HTTP_REDIRECT])
                info = self.server.apply_binding(
                    BINDING_HTTP_REDIRECT,
                    str(response),
                    response.destination,
                    query.get("RelayState") or "",
                    response=True,
                    sign=True,
                    sigalg=SIG_RSA_SHA256,
                )
            location = dict(info["headers"])["Location"]
            log(f"LogoutRequest {message.id} from {message.issuer.text} for {message.name_id.text}")
            return {
                "kind": "LogoutRequest",
                "request_id": message.id,
                "issuer": message.issuer.text,
                "name_id": message.name_id.text,
                "session_indexes": [si.text for si in message.session_index or []],
                "response_url": location,
            }
        if query.get("SAMLResponse"):
            saml_msg = {k: query[k] for k in ("SAMLResponse", "RelayState", "SigAlg", "Signature") if k in query}
            if "Signature" not in saml_msg or "SigAlg" not in saml_msg:
                raise BadRequest("the LogoutResponse is not signed")
            with self.lock:
                xml = self.server.unravel(query["SAMLResponse"], BINDING_HTTP_REDIRECT, "SAMLResponse")
                response = samlp.logout_response_from_string(xml)
                if response is None or response.issuer is None:
                    raise BadRequest("not a LogoutResponse")
                issuer = response.issuer.text
                certs = self.server.metadata.certs(issuer, "any", "signing")
                verified = any(verify_redirect_signature(saml_msg, self.server.sec.sec_backend, cert) for _, cert in certs)
            if not verified:
                raise BadRequest("the LogoutResponse's signature does not verify")
            return {
                "kind": "LogoutResponse",
                "issuer": issuer,
                "in_response_to": response.in_response_to,
                "destination": response.destination,
                "status": response.status.status_code.value,
            }
        raise BadRequest("SAMLRequest or SAMLResponse is required")

    def logout_request(self, body):
        """An IdP-initiated LogoutRequest for the SP's SingleLogoutService
        (HTTP-Redirect), signed in the query: {"url"}."""
        sp_entity_id = body.get("sp_entity_id")
        if not body.get("name_id"):
            raise BadRequest("name_id is required")
        with self.lock:
            if sp_entity_id not in self.sp_metadata:
                raise BadRequest(f"sp_entity_id {sp_entity_id!r} is not a registered SP")
            try:
                _, destination = self.server.pick_binding(
                    "single_logout_service", [BINDING_HTTP_REDIRECT], "spsso", entity_id=sp_entity_id
                )
            except Exception as exc:
                raise BadRequest(f"the SP metadata has no HTTP-Redirect SingleLogoutService: {exc}") from exc
            name_id = saml.NameID(
                format=body.get("name_id_format") or saml.NAMEID_FORMAT_UNSPECIFIED, text=str(body["name_id"])
            )
            binding = body.get("binding") or "redirect"
            if binding == "post":
                # HTTP-POST: the signature is in the XML (enveloped, over the root).
                sign = body.get("sign", True)
                req_id, signed = self.server.create_logout_request(
                    destination,
                    sp_entity_id,
                    name_id=name_id,
                    session_indexes=body.get("session_indexes") or None,
                    sign=bool(sign),
                    sign_alg=SIG_RSA_SHA256,
                    digest_alg=DIGEST_SHA256,
                )
                xml = str(signed)
                if body.get("tamper") == "nameid":
                    xml = xml.replace(f">{body['name_id']}<", f">{body.get('tamper_value') or 'attacker'}<")
                return {
                    "slo_url": destination,
                    "SAMLRequest": base64.b64encode(xml.encode("utf-8")).decode(),
                    "RelayState": body.get("relay_state"),
                    "request_id": req_id,
                }
            made = self.server.create_logout_request(
                destination,
                sp_entity_id,
                name_id=name_id,
                session_indexes=body.get("session_indexes") or None,
                sign=False,
            )
            req = made[1] if isinstance(made, tuple) else made
            if body.get("expired"):
                req.issue_instant = instant(datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1))
            info = self.server.apply_binding(
                BINDING_HTTP_REDIRECT, str(req), destination, body.get("relay_state") or "", sign=True, sigalg=SIG_RSA_SHA256
            )
        return {"url": dict(info["headers"])["Location"], "request_id": req.id}

    @staticmethod
    def _answer(sp_entity_id, acs_url, xml, relay_state, request_id):
        return {
            "acs_url": acs_url,
            "SAMLResponse": base64.b64encode(xml.encode("utf-8")).decode(),
            "RelayState": relay_state,
            "request_id": request_id,
            "sp_entity_id": sp_entity_id,
        }

    def _response(self, sp_entity_id, acs_url, in_response_to, opts):
        """The Response XML for these options; the caller holds the lock."""
        subject = opts.get("subject")
        if not subject:
            raise BadRequest("subject is required")
        tamper = opts.get("tamper") or None
        if tamper is not None and tamper not in TAMPERS:
            raise BadRequest(f"tamper must be one of {', '.join(TAMPERS)}")
        default_sign = "assertion" if tamper in ("wrap", "wrap_inside") else "both"
        sign = opts.get("sign") or default_sign
        if sign not in SIGN_MODES:
            raise BadRequest(f"sign must be one of {', '.join(SIGN_MODES)}")
        if tamper in ("wrap", "wrap_inside") and sign != "assertion":
            raise BadRequest(f"tamper={tamper} needs sign=assertion")
        key_name = opts.get("key") or "trusted"
        if key_name not in self.keys:
            raise BadRequest(f"key must be one of {', '.join(KEY_NAMES)}")
        alg = opts.get("alg") or "sha256"
        if alg not in ALGS:
            raise BadRequest(f"alg must be one of {', '.join(ALGS)}")
        sign_alg, digest_alg = ALGS[alg]
        key = self.keys[key_name]
        destination = opts.get("destination") or acs_url
        audience = opts.get("audience") or sp_entity_id
        expired = str(opts.get("expired") or "") in ("1", "true", "True")

        naming = opts.get("attribute_names") or "plain"
        if naming not in NAMINGS:
            raise BadRequest(f"attribute_names must be one of {', '.join(NAMINGS)}")
        if naming == "plain":
            ava = {ATTRIBUTES[k]: [str(opts[k])] for k in ATTRIBUTES if opts.get(k)}
            self.server.config.attribute_converters = [attribute_converter()]
            release = ReleaseEverything()
        else:
            ava = {LDAP_NAMES[k]: [str(opts[k])] for k in LDAP_NAMES if opts.get(k)}
            self.server.config.attribute_converters = ac_factory()
            release = ReleaseEverything(NAMINGS[naming])
        name_id = saml.NameID(
            format=opts.get("name_id_format") or saml.NAMEID_FORMAT_UNSPECIFIED,
            text=str(subject),
        )
        # pysaml2 builds the whole Response, unsigned: Status, Issuers,
        # Subject (bearer, Recipient = destination, InResponseTo), Conditions
        # with the SP as Audience, AuthnStatement and AttributeStatement.
        response = self.server.create_authn_response(
            identity=ava,
            in_response_to=in_response_to,
            destination=destination,
            sp_entity_id=sp_entity_id,
            name_id=name_id,
            authn={"class_ref": PASSWORDPROTECTEDTRANSPORT},
            release_policy=release,
            sign_response=False,
            sign_assertion=False,
            encrypt_assertion=False,
            best_effort=True,
        )
        if not isinstance(response, samlp.Response) or response.assertion is None:
            raise BadRequest(f"pysaml2 made no assertion: {response}")
        assertion = one(response.assertion)

        # Times and audience, on pysaml2's objects.
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        minutes = datetime.timedelta(minutes=1)
        if expired:
            issued, not_before, not_after = now - 60 * minutes, now - 60 * minutes, now - 30 * minutes
        else:
            issued, not_before, not_after = now, now - minutes, now + 5 * minutes
        response.issue_instant = instant(issued)
        assertion.issue_instant = instant(issued)
        assertion.conditions.not_before = instant(not_before)
        assertion.conditions.not_on_or_after = instant(not_after)
        one(assertion.conditions.audience_restriction).audience = [saml.Audience(text=audience)]
        for confirmation in assertion.subject.subject_confirmation:
            confirmation.subject_confirmation_data.not_on_or_after = instant(not_after)
        for statement in assertion.authn_statement:
            statement.authn_instant = instant(issued)

        # Signature templates (pysaml2), then xmlsec1 signs through pysaml2.
        if sign in ("both", "assertion"):
            assertion.signature = pre_signature_part(assertion.id, key.cert_b64, sign_alg=sign_alg, digest_alg=digest_alg)
        if sign in ("both", "response"):
            response.signature = pre_signature_part(response.id, key.cert_b64, sign_alg=sign_alg, digest_alg=digest_alg)
        xml = response.to_string(PREFIXES).decode("utf-8")
        sec = self.server.sec
        if sign in ("both", "assertion"):
            xml = sec.sign_statement(xml, "urn:oasis:names:tc:SAML:2.0:assertion:Assertion", key_file=key.key_file, node_id=assertion.id)
        if str(opts.get("encrypt") or "") in ("1", "true", "True"):
            xml = self._encrypted(xml, sp_entity_id, opts)
        if sign in ("both", "response"):
            xml = sec.sign_statement(xml, "urn:oasis:names:tc:SAML:2.0:protocol:Response", key_file=key.key_file, node_id=response.id)

        if tamper:
            xml = tampered(xml, tamper, str(opts.get("tamper_value") or "attacker"))
        log(
            f"response {response.id} for {sp_entity_id}: subject={subject} sign={sign} key={key_name} alg={alg}"
            + (f" attribute_names={naming}" if naming != "plain" else "")
            + (" expired" if expired else "")
            + (f" tamper={tamper}" if tamper else "")
        )
        return xml

    def _encrypted(self, xml, sp_entity_id, opts):
        """The Response XML with its (signed) Assertion encrypted; the caller holds the lock."""
        enc_alg = opts.get("enc_alg") or "aes256-cbc"
        if enc_alg not in ENCRYPTIONS:
            raise BadRequest(f"enc_alg must be one of {', '.join(ENCRYPTIONS)}")
        method, session_key = ENCRYPTIONS[enc_alg]
        to = opts.get("encrypt_to") or "sp"
        if to == "sp":
            certs = self.server.metadata.certs(sp_entity_id, "any", "encryption")
            if not certs:
                raise BadRequest("the SP metadata has no encryption key")
            cert_b64 = "".join(certs[0][1].split())
        elif to in self.keys:
            cert_b64 = self.keys[to].cert_b64
        else:
            raise BadRequest(f"encrypt_to must be sp or one of {', '.join(KEY_NAMES)}")
        # The signed Assertion moves into an EncryptedAssertion; xmlsec1
        # replaces it there with the EncryptedData.
        doc = minidom.parseString(xml.encode("utf-8"))
        root = doc.documentElement
        assertions = _children(root, saml.NAMESPACE, "Assertion")
        if len(assertions) != 1:
            raise BadRequest("expected one Assertion to encrypt")
        assertion = assertions[0]
        prefix = assertion.prefix
        wrapper = doc.createElementNS(saml.NAMESPACE, f"{prefix}:EncryptedAssertion" if prefix else "EncryptedAssertion")
        root.replaceChild(wrapper, assertion)
        wrapper.appendChild(assertion)
        pem = "-----BEGIN CERTIFICATE-----\n" + "\n".join(textwrap.wrap(cert_b64, 64)) + "\n-----END CERTIFICATE-----\n"
        with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as f:
            f.write(pem)
        try:
            template = pre_encryption_part(msg_enc=method, encrypt_cert=cert_b64)
            out = self.server.sec.encrypt_assertion(
                doc.toxml(), f.name, template, key_type=session_key, node_xpath=ASSERT_XPATH
            )
        finally:
            os.unlink(f.name)
        log(f"assertion encrypted to {to} with {enc_alg}")
        return out


# --- tampering (after signing, on the DOM, leaving signed nodes as they are) --


def _children(node, ns, local):
    return [
        c for c in node.childNodes if c.nodeType == c.ELEMENT_NODE and c.namespaceURI == ns and c.localName == local
    ]


def _set_text(node, text):
    for child in list(node.childNodes):
        node.removeChild(child)
    node.appendChild(node.ownerDocument.createTextNode(text))


def tampered(xml, how, value):
    doc = minidom.parseString(xml.encode("utf-8"))
    root = doc.documentElement
    assertions = _children(root, saml.NAMESPACE, "Assertion")
    if len(assertions) != 1:
        raise BadRequest("expected one Assertion to tamper with")
    signed = assertions[0]
    if how == "nameid":
        for name_id in signed.getElementsByTagNameNS(saml.NAMESPACE, "NameID"):
            _set_text(name_id, value)
        return doc.toxml()
    # Signature wrapping: an unsigned copy with a new ID and another subject.
    if not _children(signed, "http://www.w3.org/2000/09/xmldsig#", "Signature"):
        raise BadRequest(f"tamper={how} needs a signed assertion")
    evil = signed.cloneNode(True)
    for sig in _children(evil, "http://www.w3.org/2000/09/xmldsig#", "Signature"):
        evil.removeChild(sig)
    evil.setAttribute("ID", sid())
    for name_id in evil.getElementsByTagNameNS(saml.NAMESPACE, "NameID"):
        _set_text(name_id, value)
    if how == "wrap":
        root.insertBefore(evil, signed)
    else:  # wrap_inside: the signed assertion goes into the evil one's Advice
        root.replaceChild(evil, signed)
        prefix = evil.prefix
        advice = doc.createElementNS(saml.NAMESPACE, f"{prefix}:Advice" if prefix else "Advice")
        advice.appendChild(signed)
        # Advice comes after Issuer, Signature, Subject and Conditions.
        following = [
            c
            for c in evil.childNodes
            if c.nodeType == c.ELEMENT_NODE
            and c.localName not in ("Issuer", "Signature", "Subject", "Conditions")
        ]
        if following:
            evil.insertBefore(advice, following[0])
        else:
            evil.appendChild(advice)
    return doc.toxml()


# --- HTTP ---------------------------------------------------------------------


def make_handler(idp):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            log(fmt % args)

        def log_request(self, code="-", size="-"):
            # Without the query: a SAMLRequest is long and says nothing here.
            log(f"{self.command} {urllib.parse.urlsplit(self.path).path} {code}")

        def _send(self, status, body, content_type="application/json"):
            data = body.encode("utf-8") if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _json(self, status, obj):
            self._send(status, json.dumps(obj))

        def _body(self):
            length = int(self.headers.get("content-length") or 0)
            if length > 1_000_000:
                raise BadRequest("body too large")
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw or b"{}")
            except ValueError as exc:
                raise BadRequest(f"the body is not JSON: {exc}") from exc
            if not isinstance(body, dict):
                raise BadRequest("the body must be a JSON object")
            return body

        def _dispatch(self, method):
            url = urllib.parse.urlsplit(self.path)
            query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
            try:
                if method == "GET" and url.path == "/metadata":
                    names = [n.strip() for n in (query.get("certs") or "trusted").split(",") if n.strip()]
                    return self._send(200, idp.metadata(names), "application/samlmetadata+xml")
                if method == "POST" and url.path == "/sp":
                    return self._json(200, idp.register_sp(self._body().get("metadata_url")))
                if method == "GET" and url.path == "/sso":
                    return self._json(200, idp.sso(query.get("SAMLRequest"), query.get("RelayState"), query))
                if method == "POST" and url.path == "/idp-initiated":
                    return self._json(200, idp.idp_initiated(self._body()))
                if method == "GET" and url.path == "/slo":
                    return self._json(200, idp.slo(query))
                if method == "POST" and url.path == "/logout-request":
                    return self._json(200, idp.logout_request(self._body()))
                return self._json(404, {"error": f"no route {method} {url.path}"})
            except BadRequest as exc:
                log(f"400 {method} {url.path}: {exc}")
                return self._json(400, {"error": str(exc)})
            except Exception as exc:  # a bug here, or pysaml2 refusing something
                log(f"500 {method} {url.path}: {exc!r}")
                return self._json(500, {"error": repr(exc)})

        def do_GET(self):
            self._dispatch("GET")

        def do_POST(self):
            self._dispatch("POST")

    return Handler


def main():
    if not shutil.which("xmlsec1"):
        log("xmlsec1 is not on PATH (install Debian's xmlsec1)")
        sys.exit(1)
    # SIGTERM unwinds like Ctrl-C, so the temporary folder is removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with tempfile.TemporaryDirectory(prefix="saml-idp-") as folder:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), None)
        httpd.daemon_threads = True
        base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
        idp = IdP(base_url, folder)
        httpd.RequestHandlerClass = make_handler(idp)

        def wait_for_stdin_eof():
            # os.read, not sys.stdin: a daemon thread blocked in a buffered
            # read would make the interpreter abort at exit.
            try:
                while os.read(0, 4096):
                    pass
            except OSError:
                pass
            log("stdin closed, exiting")
            httpd.shutdown()

        threading.Thread(target=wait_for_stdin_eof, daemon=True).start()
        print(json.dumps({"base_url": base_url, "entity_id": idp.entity_id}), flush=True)
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            httpd.server_close()


if __name__ == "__main__":
    main()
