//! scimlink's own keys as a SAML service provider, and what it does with
//! them: the key pairs each connection publishes in its SP metadata, the
//! HTTP-Redirect binding's query signatures (made on AuthnRequests and
//! logout messages, checked on the IdP's), and the decryption of an
//! `EncryptedAssertion` back into a plain Response that every check of
//! `service::saml` then runs on.
//!
//! samael has a redirect signer and an assertion decrypter, but neither
//! fits: its signer signs the whole query of the IdP's URL (an SSO URL with
//! its own parameters gets a signature the IdP recomputes differently,
//! where SAML bindings §3.4.4.1 signs only SAMLRequest, RelayState and
//! SigAlg), its URL verifier panics on an unknown SigAlg or a missing
//! parameter, and its decrypter knows AES-128 only, takes RSA PKCS#1 v1.5
//! key transport, panics on short input, and returns the assertion without
//! checking the signature inside it.

use std::io::{Read, Write};

use base64::Engine;
use chrono::{DateTime, Utc};
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::md::Md;
use openssl::pkey::{PKey, Private, Public};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::{Padding, Rsa};
use openssl::symm::Cipher;
use openssl::x509::{X509, X509NameBuilder};
use quick_xml::events::{BytesStart, Event};

use super::saml::{IdpCertificate, MAX_XML_BYTES};

/// RSA key size of every SP key pair (NIST SP 800-57: 2048 bits or more).
pub const KEY_BITS: u32 = 2048;

/// The SigAlg scimlink signs with (RFC 6931 §2.3.2).
pub const SIG_ALG_RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// A key pair a connection publishes: the private key (PKCS#8 PEM) and its
/// self-signed certificate (base64 DER, as `<ds:X509Certificate>` holds it).
pub struct KeyPair {
    pub private_key_pem: String,
    pub certificate_der: String,
}

/// A new RSA key pair and a self-signed certificate naming it; SAML
/// metadata trusts the key, not a CA, so the certificate only carries it.
pub fn generate_key_pair(common_name: &str, now: DateTime<Utc>) -> Result<KeyPair, String> {
    let fail = |e: openssl::error::ErrorStack| format!("cannot make a key pair: {e}");
    let rsa = Rsa::generate(KEY_BITS).map_err(fail)?;
    let key = PKey::from_rsa(rsa).map_err(fail)?;
    let mut name = X509NameBuilder::new().map_err(fail)?;
    let cn: String = common_name.chars().take(64).collect();
    name.append_entry_by_text("CN", &cn).map_err(fail)?;
    let name = name.build();
    let mut serial = BigNum::new().map_err(fail)?;
    serial
        .rand(127, MsbOption::MAYBE_ZERO, false)
        .map_err(fail)?;
    let mut builder = X509::builder().map_err(fail)?;
    builder.set_version(2).map_err(fail)?;
    let serial = serial.to_asn1_integer().map_err(fail)?;
    builder.set_serial_number(&serial).map_err(fail)?;
    builder.set_subject_name(&name).map_err(fail)?;
    builder.set_issuer_name(&name).map_err(fail)?;
    builder.set_pubkey(&key).map_err(fail)?;
    let day = 24 * 3600;
    let start = now.timestamp() - day;
    let not_before = Asn1Time::from_unix(start).map_err(fail)?;
    let not_after = Asn1Time::from_unix(start + 20 * 365 * day).map_err(fail)?;
    builder.set_not_before(&not_before).map_err(fail)?;
    builder.set_not_after(&not_after).map_err(fail)?;
    builder.sign(&key, MessageDigest::sha256()).map_err(fail)?;
    let der = builder.build().to_der().map_err(fail)?;
    let pem = key.private_key_to_pem_pkcs8().map_err(fail)?;
    Ok(KeyPair {
        private_key_pem: String::from_utf8(pem).map_err(|e| e.to_string())?,
        certificate_der: base64::engine::general_purpose::STANDARD.encode(der),
    })
}

fn private_key(pem: &str) -> Result<PKey<Private>, String> {
    PKey::private_key_from_pem(pem.as_bytes()).map_err(|e| format!("the SP key is unreadable: {e}"))
}

fn url_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The URL that carries a SAML message over the HTTP-Redirect binding,
/// signed (SAML bindings §3.4.4.1): DEFLATE, base64, URL-encoded; the
/// signature covers `SAMLRequest=…[&RelayState=…]&SigAlg=…` exactly as
/// it is sent, and the destination's own query parameters stay in front.
/// `parameter` is `SAMLRequest` or `SAMLResponse`.
pub fn signed_redirect_url(
    destination: &str,
    parameter: &str,
    xml: &str,
    relay_state: Option<&str>,
    key_pem: &str,
) -> Result<String, String> {
    let mut deflater =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    deflater
        .write_all(xml.as_bytes())
        .map_err(|e| format!("cannot deflate: {e}"))?;
    let deflated = deflater
        .finish()
        .map_err(|e| format!("cannot deflate: {e}"))?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(deflated);
    let mut signed = format!("{parameter}={}", url_encode(&encoded));
    if let Some(relay) = relay_state {
        signed.push_str(&format!("&RelayState={}", url_encode(relay)));
    }
    signed.push_str(&format!("&SigAlg={}", url_encode(SIG_ALG_RSA_SHA256)));
    let key = private_key(key_pem)?;
    let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), &key)
        .map_err(|e| format!("cannot sign: {e}"))?;
    signer
        .update(signed.as_bytes())
        .map_err(|e| format!("cannot sign: {e}"))?;
    let signature = signer
        .sign_to_vec()
        .map_err(|e| format!("cannot sign: {e}"))?;
    let url = url::Url::parse(destination).map_err(|e| format!("{destination:?}: {e}"))?;
    let separator = if url.query().is_some_and(|q| !q.is_empty()) {
        '&'
    } else {
        '?'
    };
    let mut base = url.to_string();
    if base.ends_with('?') {
        base.pop();
    }
    Ok(format!(
        "{base}{separator}{signed}&Signature={}",
        url_encode(&base64::engine::general_purpose::STANDARD.encode(signature))
    ))
}

/// A SAML message read from an HTTP-Redirect query, its signature checked.
#[derive(Debug)]
pub struct RedirectMessage {
    pub xml: String,
    pub relay_state: Option<String>,
}

fn url_decode(raw: &str) -> String {
    url::form_urlencoded::parse(format!("v={raw}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The digest of a SigAlg scimlink accepts: RSA or ECDSA with SHA-256 or
/// stronger, as for XML signatures.
fn sig_alg_digest(sig_alg: &str) -> Option<MessageDigest> {
    match sig_alg {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
        | "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256" => Some(MessageDigest::sha256()),
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
        | "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384" => Some(MessageDigest::sha384()),
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
        | "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512" => Some(MessageDigest::sha512()),
        _ => None,
    }
}

fn public_keys(certificates: &[IdpCertificate]) -> Vec<PKey<Public>> {
    certificates
        .iter()
        .filter_map(|c| {
            let der = base64::engine::general_purpose::STANDARD
                .decode(&c.der_base64)
                .ok()?;
            X509::from_der(&der).ok()?.public_key().ok()
        })
        .collect()
}

/// Inflates a redirect binding's message, refusing more than
/// `MAX_XML_BYTES` (a deflate bomb stops there).
fn inflate(deflated: &[u8]) -> Result<String, String> {
    let mut xml = Vec::new();
    flate2::read::DeflateDecoder::new(deflated)
        .take(MAX_XML_BYTES as u64 + 1)
        .read_to_end(&mut xml)
        .map_err(|e| format!("the message is not DEFLATE data: {e}"))?;
    if xml.len() > MAX_XML_BYTES {
        return Err(format!("the message is larger than {MAX_XML_BYTES} bytes"));
    }
    String::from_utf8(xml).map_err(|_| "the message is not UTF-8".into())
}

/// Reads `parameter` (`SAMLRequest` or `SAMLResponse`) from the raw query
/// of an HTTP-Redirect request and checks its signature against the IdP's
/// certificates. SAML bindings §3.4.4.1: the signature covers the
/// parameters as they were sent, not re-encoded, so the raw query is read
/// here; a message without a signature, a repeated parameter or a weak
/// SigAlg is refused.
pub fn read_signed_redirect(
    raw_query: &str,
    parameter: &str,
    certificates: &[IdpCertificate],
) -> Result<RedirectMessage, String> {
    let mut message = None;
    let mut relay = None;
    let mut sig_alg = None;
    let mut signature = None;
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match name {
            n if n == parameter => &mut message,
            "RelayState" => &mut relay,
            "SigAlg" => &mut sig_alg,
            "Signature" => &mut signature,
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err(format!("the query names {name} twice"));
        }
    }
    let message = message.ok_or_else(|| format!("the query has no {parameter}"))?;
    let (Some(sig_alg), Some(signature)) = (sig_alg, signature) else {
        return Err("the message is not signed (no SigAlg and Signature)".into());
    };
    let alg = url_decode(sig_alg);
    let digest = sig_alg_digest(&alg).ok_or_else(|| {
        format!("the message is signed with {alg:?}; SHA-256 or stronger is required")
    })?;
    let mut signed = format!("{parameter}={message}");
    if let Some(relay) = relay {
        signed.push_str(&format!("&RelayState={relay}"));
    }
    signed.push_str(&format!("&SigAlg={sig_alg}"));
    let signature = base64::engine::general_purpose::STANDARD
        .decode(url_decode(signature).replace(char::is_whitespace, ""))
        .map_err(|_| "the Signature is not base64".to_string())?;
    let verified = public_keys(certificates).iter().any(|key| {
        openssl::sign::Verifier::new(digest, key)
            .and_then(|mut v| {
                v.update(signed.as_bytes())?;
                v.verify(&signature)
            })
            .unwrap_or(false)
    });
    if !verified {
        return Err(
            "the message's signature does not verify with the connection's certificates".into(),
        );
    }
    let deflated = base64::engine::general_purpose::STANDARD
        .decode(url_decode(message).replace(char::is_whitespace, ""))
        .map_err(|_| format!("{parameter} is not base64"))?;
    Ok(RedirectMessage {
        xml: inflate(&deflated)?,
        relay_state: relay.map(url_decode),
    })
}

const XMLENC_CBC: [(&str, usize); 3] = [
    ("http://www.w3.org/2001/04/xmlenc#aes128-cbc", 16),
    ("http://www.w3.org/2001/04/xmlenc#aes192-cbc", 24),
    ("http://www.w3.org/2001/04/xmlenc#aes256-cbc", 32),
];
const XMLENC_GCM: [(&str, usize); 3] = [
    ("http://www.w3.org/2009/xmlenc11#aes128-gcm", 16),
    ("http://www.w3.org/2009/xmlenc11#aes192-gcm", 24),
    ("http://www.w3.org/2009/xmlenc11#aes256-gcm", 32),
];
const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
const RSA_OAEP: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";

/// What an `EncryptedAssertion` says, read without trusting it.
#[derive(Debug, Default)]
struct Encrypted {
    /// Byte range of the EncryptedAssertion element in the response.
    range: (usize, usize),
    data_algorithm: Option<String>,
    data_cipher: Option<String>,
    key_algorithm: Option<String>,
    key_digest: Option<String>,
    key_mgf: Option<String>,
    key_cipher: Option<String>,
    encrypted_keys: usize,
}

fn local_name(element: &BytesStart<'_>) -> String {
    String::from_utf8_lossy(element.local_name().as_ref()).into_owned()
}

fn algorithm(element: &BytesStart<'_>) -> Result<Option<String>, String> {
    for attr in element.attributes() {
        let attr = attr.map_err(|e| format!("a malformed attribute: {e}"))?;
        if attr.key.local_name().as_ref() == b"Algorithm" {
            let value = attr
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| format!("a malformed attribute value: {e}"))?;
            return Ok(Some(value.into_owned()));
        }
    }
    Ok(None)
}

/// The Response's EncryptedAssertions (their parts) and the byte ranges of
/// its own `Signature` elements (children of the root).
/// A byte range of the response.
type Span = (usize, usize);

fn find_encrypted(xml: &str) -> Result<(Vec<Encrypted>, Vec<Span>), String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut stack: Vec<String> = Vec::new();
    let mut found: Vec<Encrypted> = Vec::new();
    let mut response_signatures = Vec::new();
    // Where the current EncryptedAssertion or root Signature started, and
    // at which depth.
    let mut open: Option<(usize, usize)> = None;
    let mut signature_open: Option<usize> = None;
    loop {
        let before = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = reader
            .read_event()
            .map_err(|e| format!("the response is not well-formed XML: {e}"))?;
        let after = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        match &event {
            Event::Start(e) | Event::Empty(e) => {
                let name = local_name(e);
                let empty = matches!(event, Event::Empty(_));
                if name == "EncryptedAssertion" && open.is_none() {
                    found.push(Encrypted::default());
                    if empty {
                        if let Some(last) = found.last_mut() {
                            last.range = (before, after);
                        }
                    } else {
                        open = Some((before, stack.len()));
                    }
                } else if name == "Signature" && stack.len() == 1 && open.is_none() {
                    if empty {
                        response_signatures.push((before, after));
                    } else {
                        signature_open = Some(before);
                    }
                } else if open.is_some() {
                    let parent = stack.last().map(String::as_str);
                    let grandparent = stack.len().checked_sub(2).and_then(|i| stack.get(i));
                    if let Some(enc) = found.last_mut() {
                        match (name.as_str(), parent) {
                            ("EncryptedKey", _) => enc.encrypted_keys += 1,
                            ("EncryptionMethod", Some("EncryptedData")) => {
                                enc.data_algorithm = algorithm(e)?;
                            }
                            ("EncryptionMethod", Some("EncryptedKey")) => {
                                enc.key_algorithm = algorithm(e)?;
                            }
                            ("DigestMethod", Some("EncryptionMethod"))
                                if grandparent.map(String::as_str) == Some("EncryptedKey") =>
                            {
                                enc.key_digest = algorithm(e)?;
                            }
                            ("MGF", Some("EncryptionMethod"))
                                if grandparent.map(String::as_str) == Some("EncryptedKey") =>
                            {
                                enc.key_mgf = algorithm(e)?;
                            }
                            _ => {}
                        }
                    }
                }
                if !empty {
                    stack.push(name);
                }
            }
            Event::Text(t)
                if open.is_some() && stack.last().map(String::as_str) == Some("CipherValue") =>
            {
                let holder = stack.len().checked_sub(3).and_then(|i| stack.get(i));
                let text = t
                    .xml10_content()
                    .map_err(|e| format!("a malformed CipherValue: {e}"))?
                    .into_owned();
                if let Some(enc) = found.last_mut() {
                    let slot = match holder.map(String::as_str) {
                        Some("EncryptedData") => &mut enc.data_cipher,
                        Some("EncryptedKey") => &mut enc.key_cipher,
                        _ => continue,
                    };
                    slot.get_or_insert_with(String::new).push_str(&text);
                }
            }
            Event::End(_) => {
                stack.pop();
                if let Some((start, depth)) = open
                    && stack.len() == depth
                {
                    if let Some(enc) = found.last_mut() {
                        enc.range = (start, after);
                    }
                    open = None;
                }
                if stack.len() == 1
                    && let Some(start) = signature_open.take()
                {
                    response_signatures.push((start, after));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok((found, response_signatures))
}

fn decode_cipher(text: Option<&String>, what: &str) -> Result<Vec<u8>, String> {
    let text = text.ok_or_else(|| format!("the EncryptedAssertion has no {what} CipherValue"))?;
    base64::engine::general_purpose::STANDARD
        .decode(text.replace(char::is_whitespace, ""))
        .map_err(|_| format!("the {what} CipherValue is not base64"))
}

fn digest_of(
    uri: Option<&str>,
    default: &'static openssl::md::MdRef,
) -> Result<&'static openssl::md::MdRef, String> {
    match uri {
        None => Ok(default),
        Some("http://www.w3.org/2000/09/xmldsig#sha1") => Ok(Md::sha1()),
        Some("http://www.w3.org/2001/04/xmlenc#sha256") => Ok(Md::sha256()),
        Some("http://www.w3.org/2001/04/xmldsig-more#sha384") => Ok(Md::sha384()),
        Some("http://www.w3.org/2001/04/xmlenc#sha512") => Ok(Md::sha512()),
        Some(other) => Err(format!(
            "the key transport names an unknown digest {other:?}"
        )),
    }
}

fn mgf_of(uri: Option<&str>) -> Result<&'static openssl::md::MdRef, String> {
    match uri {
        None | Some("http://www.w3.org/2009/xmlenc11#mgf1sha1") => Ok(Md::sha1()),
        Some("http://www.w3.org/2009/xmlenc11#mgf1sha256") => Ok(Md::sha256()),
        Some("http://www.w3.org/2009/xmlenc11#mgf1sha384") => Ok(Md::sha384()),
        Some("http://www.w3.org/2009/xmlenc11#mgf1sha512") => Ok(Md::sha512()),
        Some(other) => Err(format!("the key transport names an unknown MGF {other:?}")),
    }
}

/// The content-encryption key. RSA-OAEP only: RSA PKCS#1 v1.5 key transport
/// (xmlenc#rsa-1_5) is refused, as it leaks through Bleichenbacher's
/// attack (XML Encryption 1.1 §5.5.1 makes it optional for that reason).
fn unwrap_key(enc: &Encrypted, key: &PKey<Private>) -> Result<Vec<u8>, String> {
    let algorithm = enc.key_algorithm.as_deref().unwrap_or_default();
    let (digest, mgf) = match algorithm {
        // XML Encryption §5.4.2: SHA-1 unless a DigestMethod says; MGF1 with SHA-1.
        RSA_OAEP_MGF1P => (
            digest_of(enc.key_digest.as_deref(), Md::sha1())?,
            Md::sha1(),
        ),
        RSA_OAEP => (
            digest_of(enc.key_digest.as_deref(), Md::sha1())?,
            mgf_of(enc.key_mgf.as_deref())?,
        ),
        other => {
            return Err(format!(
                "the assertion's key is transported with {other:?}; RSA-OAEP is required"
            ));
        }
    };
    let wrapped = decode_cipher(enc.key_cipher.as_ref(), "EncryptedKey")?;
    let fail = |_| "the assertion's key does not decrypt with this connection's key".to_string();
    let mut ctx = PkeyCtx::new(key).map_err(fail)?;
    ctx.decrypt_init().map_err(fail)?;
    ctx.set_rsa_padding(Padding::PKCS1_OAEP).map_err(fail)?;
    ctx.set_rsa_oaep_md(digest).map_err(fail)?;
    ctx.set_rsa_mgf1_md(mgf).map_err(fail)?;
    let mut out = Vec::new();
    ctx.decrypt_to_vec(&wrapped, &mut out).map_err(fail)?;
    Ok(out)
}

fn decrypt_data(enc: &Encrypted, content_key: &[u8]) -> Result<Vec<u8>, String> {
    let algorithm = enc.data_algorithm.as_deref().unwrap_or_default();
    let data = decode_cipher(enc.data_cipher.as_ref(), "EncryptedData")?;
    let fail = || "the assertion does not decrypt".to_string();
    if let Some((_, len)) = XMLENC_GCM.iter().find(|(uri, _)| *uri == algorithm) {
        // XML Encryption 1.1 §5.2.4: a 96-bit IV, the ciphertext, a 128-bit tag.
        let cipher = match len {
            16 => Cipher::aes_128_gcm(),
            24 => Cipher::aes_192_gcm(),
            _ => Cipher::aes_256_gcm(),
        };
        if content_key.len() != *len || data.len() < 12 + 16 {
            return Err(fail());
        }
        let (iv, rest) = data.split_at(12);
        let (ciphertext, tag) = rest.split_at(rest.len() - 16);
        return openssl::symm::decrypt_aead(cipher, content_key, Some(iv), &[], ciphertext, tag)
            .map_err(|_| fail());
    }
    if let Some((_, len)) = XMLENC_CBC.iter().find(|(uri, _)| *uri == algorithm) {
        let cipher = match len {
            16 => Cipher::aes_128_cbc(),
            24 => Cipher::aes_192_cbc(),
            _ => Cipher::aes_256_cbc(),
        };
        if content_key.len() != *len || data.len() < 32 || data.len() % 16 != 0 {
            return Err(fail());
        }
        let (iv, ciphertext) = data.split_at(16);
        let mut crypter = openssl::symm::Crypter::new(
            cipher,
            openssl::symm::Mode::Decrypt,
            content_key,
            Some(iv),
        )
        .map_err(|_| fail())?;
        // XML Encryption §5.2: the last byte counts the padding, the
        // padding bytes themselves are arbitrary (not PKCS#7).
        crypter.pad(false);
        let mut out = vec![0; ciphertext.len() + 16];
        let mut n = crypter.update(ciphertext, &mut out).map_err(|_| fail())?;
        n += crypter.finalize(&mut out[n..]).map_err(|_| fail())?;
        out.truncate(n);
        let pad = usize::from(*out.last().ok_or_else(fail)?);
        if pad == 0 || pad > 16 || pad > out.len() {
            return Err(fail());
        }
        out.truncate(out.len() - pad);
        return Ok(out);
    }
    Err(format!(
        "the assertion is encrypted with {algorithm:?}; AES-CBC or AES-GCM is required"
    ))
}

/// A Response with its `EncryptedAssertion` decrypted in place: `None`
/// when it has none. The Response's own signature is removed, as it covers
/// the ciphertext, not the assertion now in its place: what the IdP signed
/// inside the encryption (the Assertion's signature) is what
/// `verify_response` then requires, with every other check, on the
/// decrypted document. Anyone can encrypt to a published key, so the
/// decrypted text is as untrusted as any post.
pub fn decrypt_response(xml: &str, key_pem: &str) -> Result<Option<String>, String> {
    let (encrypted, signatures) = find_encrypted(xml)?;
    let enc = match encrypted.as_slice() {
        [] => return Ok(None),
        [one] => one,
        _ => return Err("the response carries more than one EncryptedAssertion".into()),
    };
    if enc.encrypted_keys != 1 {
        return Err(format!(
            "the EncryptedAssertion carries {} EncryptedKeys; exactly one is accepted",
            enc.encrypted_keys
        ));
    }
    let key = private_key(key_pem)?;
    let content_key = unwrap_key(enc, &key)?;
    let plain = decrypt_data(enc, &content_key)?;
    let plain =
        String::from_utf8(plain).map_err(|_| "the decrypted assertion is not UTF-8".to_string())?;
    // Type="…#Element" (XML Encryption §3.5.1): one element, nothing around it.
    let plain = plain.trim();
    if !plain.starts_with('<') || plain.starts_with("<?") || plain.starts_with("<!") {
        return Err("the decrypted content is not an element".into());
    }
    let mut cuts: Vec<(usize, usize, &str)> = signatures.iter().map(|&(s, e)| (s, e, "")).collect();
    cuts.push((enc.range.0, enc.range.1, plain));
    cuts.sort_by_key(|c| c.0);
    let mut out = String::with_capacity(xml.len() + plain.len());
    let mut at = 0;
    for (start, end, with) in cuts {
        let before = xml
            .get(at..start)
            .ok_or("the response's elements overlap")?;
        out.push_str(before);
        out.push_str(with);
        at = end;
    }
    out.push_str(xml.get(at..).unwrap_or_default());
    if out.len() > MAX_XML_BYTES {
        return Err(format!(
            "the decrypted response is larger than {MAX_XML_BYTES} bytes"
        ));
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_pair() -> KeyPair {
        generate_key_pair("scimlink test", Utc::now()).expect("key pair")
    }

    fn certificate_of(pair: &KeyPair) -> IdpCertificate {
        super::super::saml::certificate(&pair.certificate_der).expect("certificate")
    }

    #[test]
    fn key_pairs_are_rsa_of_the_size_and_their_certificates_read() {
        let pair = key_pair();
        let key = private_key(&pair.private_key_pem).expect("key");
        assert_eq!(key.bits(), KEY_BITS);
        const { assert!(KEY_BITS >= 2048) };
        let cert = certificate_of(&pair);
        assert!(cert.subject.contains("scimlink test"), "{}", cert.subject);
    }

    fn query_of(url: &str) -> String {
        url.split_once('?')
            .map(|(_, q)| q.to_string())
            .expect("a query")
    }

    #[test]
    fn a_signed_redirect_reads_back_and_keeps_the_destinations_query() {
        let pair = key_pair();
        let url = signed_redirect_url(
            "https://idp.example/slo?app=1",
            "SAMLRequest",
            "<samlp:LogoutRequest/>",
            Some("a b&c"),
            &pair.private_key_pem,
        )
        .expect("url");
        assert!(
            url.starts_with("https://idp.example/slo?app=1&SAMLRequest="),
            "{url}"
        );
        let read = read_signed_redirect(&query_of(&url), "SAMLRequest", &[certificate_of(&pair)])
            .expect("verifies");
        assert_eq!(read.xml, "<samlp:LogoutRequest/>");
        assert_eq!(read.relay_state.as_deref(), Some("a b&c"));
    }

    #[test]
    fn a_tampered_unsigned_foreign_or_weak_redirect_is_refused() {
        let pair = key_pair();
        let certs = [certificate_of(&pair)];
        let url = signed_redirect_url(
            "https://idp.example/slo",
            "SAMLResponse",
            "<x/>",
            Some("r"),
            &pair.private_key_pem,
        )
        .expect("url");
        let query = query_of(&url);
        assert!(read_signed_redirect(&query, "SAMLResponse", &certs).is_ok());
        let tampered = query.replace("RelayState=r", "RelayState=s");
        assert!(
            read_signed_redirect(&tampered, "SAMLResponse", &certs)
                .unwrap_err()
                .contains("does not verify")
        );
        let unsigned = query.split("&SigAlg").next().expect("part").to_string();
        assert!(
            read_signed_redirect(&unsigned, "SAMLResponse", &certs)
                .unwrap_err()
                .contains("not signed")
        );
        let other = [certificate_of(&key_pair())];
        assert!(read_signed_redirect(&query, "SAMLResponse", &other).is_err());
        let sha1 = query.replace(
            &url_encode(SIG_ALG_RSA_SHA256),
            &url_encode("http://www.w3.org/2000/09/xmldsig#rsa-sha1"),
        );
        assert!(
            read_signed_redirect(&sha1, "SAMLResponse", &certs)
                .unwrap_err()
                .contains("SHA-256")
        );
        let twice = format!("{query}&RelayState=x");
        assert!(
            read_signed_redirect(&twice, "SAMLResponse", &certs)
                .unwrap_err()
                .contains("twice")
        );
        assert!(read_signed_redirect(&query, "SAMLRequest", &certs).is_err());
    }

    /// Encrypts like an IdP: AES-256-CBC content, RSA-OAEP-MGF1P key.
    fn encrypt_for(pair: &KeyPair, plain: &str) -> String {
        let cert = X509::from_der(
            &base64::engine::general_purpose::STANDARD
                .decode(&pair.certificate_der)
                .expect("b64"),
        )
        .expect("cert");
        let public = cert.public_key().expect("public key");
        let rsa = public.rsa().expect("rsa");
        let content_key = [7u8; 32];
        let mut wrapped = vec![0; rsa.size() as usize];
        let n = rsa
            .public_encrypt(&content_key, &mut wrapped, Padding::PKCS1_OAEP)
            .expect("wrap");
        wrapped.truncate(n);
        let iv = [9u8; 16];
        let mut padded = plain.as_bytes().to_vec();
        let pad = 16 - padded.len() % 16;
        padded.extend(std::iter::repeat_n(0xAA, pad - 1));
        padded.push(u8::try_from(pad).expect("pad"));
        let mut crypter = openssl::symm::Crypter::new(
            Cipher::aes_256_cbc(),
            openssl::symm::Mode::Encrypt,
            &content_key,
            Some(&iv),
        )
        .expect("crypter");
        crypter.pad(false);
        let mut out = vec![0; padded.len() + 16];
        let mut m = crypter.update(&padded, &mut out).expect("update");
        m += crypter.finalize(&mut out[m..]).expect("final");
        out.truncate(m);
        let mut data = iv.to_vec();
        data.extend(out);
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        format!(
            r#"<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes256-cbc"/><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"><ds:DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/></xenc:EncryptionMethod><xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion>"#,
            b64(&wrapped),
            b64(&data)
        )
    }

    fn response_with(inner: &str) -> String {
        format!(
            r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r"><saml:Issuer>i</saml:Issuer><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo/></ds:Signature>{inner}</samlp:Response>"#
        )
    }

    #[test]
    fn an_encrypted_assertion_is_decrypted_in_place_without_the_response_signature() {
        let pair = key_pair();
        let assertion = r#"<saml:Assertion ID="_a"><saml:Issuer>i</saml:Issuer></saml:Assertion>"#;
        let xml = response_with(&encrypt_for(&pair, assertion));
        let plain = decrypt_response(&xml, &pair.private_key_pem)
            .expect("decrypts")
            .expect("was encrypted");
        assert_eq!(
            plain,
            format!(
                r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r"><saml:Issuer>i</saml:Issuer>{assertion}</samlp:Response>"#
            )
        );
        assert_eq!(
            decrypt_response(&response_with(assertion), &pair.private_key_pem).expect("plain"),
            None
        );
    }

    #[test]
    fn encrypted_assertions_for_another_key_or_with_weak_transport_are_refused() {
        let pair = key_pair();
        let xml = response_with(&encrypt_for(&pair, "<saml:Assertion/>"));
        let other = key_pair();
        assert!(
            decrypt_response(&xml, &other.private_key_pem)
                .unwrap_err()
                .contains("does not decrypt")
        );
        let pkcs1 = xml.replace("xmlenc#rsa-oaep-mgf1p", "xmlenc#rsa-1_5");
        assert!(
            decrypt_response(&pkcs1, &pair.private_key_pem)
                .unwrap_err()
                .contains("RSA-OAEP")
        );
        let two = response_with(&format!("{0}{0}", encrypt_for(&pair, "<saml:Assertion/>")));
        assert!(decrypt_response(&two, &pair.private_key_pem).is_err());
        let short = xml.replace("aes256-cbc", "aes128-gcm");
        assert!(decrypt_response(&short, &pair.private_key_pem).is_err());
        let text = response_with(&encrypt_for(&pair, "<?xml version=\"1.0\"?><x/>"));
        assert!(
            decrypt_response(&text, &pair.private_key_pem)
                .unwrap_err()
                .contains("not an element")
        );
    }
}
