//! X.509, pure: generating the CA and the serving certificate with rcgen, and reading stored
//! ones with x509-parser (PEM, keys, signatures, subject alternative names, expiry).

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PublicKeyData as _, SanType,
};
use x509_parser::certificate::X509Certificate;
use x509_parser::error::{PEMError, X509Error};
use x509_parser::extensions::GeneralName;
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer as _;
use x509_parser::time::ASN1Time;

use super::bundle::{CA_CRT, CA_KEY, TLS_CRT, TLS_KEY};
use super::error::{Error, Result};
use super::options::CertOptions;

/// The common name of the CA.
pub const CA_COMMON_NAME: &str = "portal-webhook-ca";
/// Certificates start this long before they are made, for nodes whose clocks are behind.
const BACKDATE: Duration = Duration::from_secs(60 * 60);

/// A subject alternative name, compared case-insensitively for DNS.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Name {
    Dns(String),
    Ip(IpAddr),
    /// Any other kind: never wanted, so its presence calls for a new certificate.
    Other(String),
}

/// A usable CA: a CA certificate with its matching key.
pub(super) struct Ca {
    pub(super) pem: String,
    pub(super) key_pem: String,
    key: KeyPair,
    pub(super) der: Vec<u8>,
    pub(super) not_after: SystemTime,
}

/// A usable serving certificate.
pub(super) struct Serving {
    pub(super) cert_pem: String,
    pub(super) key_pem: String,
    pub(super) not_after: SystemTime,
}

/// Why a stored certificate or key cannot be used. The text is the reason logged for replacing
/// it, one line, so a cause is part of the message rather than a `source`.
#[derive(Debug, thiserror::Error)]
pub(super) enum Unusable {
    #[error("{key} is missing")]
    Missing { key: &'static str },
    #[error(transparent)]
    Pem(#[from] PemError),
    #[error("{CA_CRT} must hold exactly one certificate")]
    NotOneCa,
    #[error("{TLS_CRT} holds no certificate")]
    NoCertificate,
    #[error("{key}: {error}")]
    Parse { key: &'static str, error: x509_parser::nom::Err<X509Error> },
    #[error("{CA_CRT} is not a CA certificate")]
    NotCa,
    #[error("{key}: {error}")]
    ParseKey { key: &'static str, error: rcgen::Error },
    #[error("{key} is not the key of {certificate}")]
    KeyMismatch { key: &'static str, certificate: &'static str },
    #[error("{TLS_CRT} is not signed by {CA_CRT}")]
    NotSignedByCa,
    #[error("{TLS_CRT}: {error}")]
    Names { error: X509Error },
    #[error("{TLS_CRT} is for other names or IPs than asked for")]
    OtherNames,
}

/// Why a PEM text is not a list of certificates.
#[derive(Debug, thiserror::Error)]
pub(super) enum PemError {
    #[error("unexpected PEM block {label:?}")]
    UnexpectedBlock { label: String },
    #[error("not PEM: {error}")]
    NotPem { error: PEMError },
}

impl CertOptions {
    /// The subject alternative names the serving certificate must have, exactly.
    pub(super) fn wanted_names(&self) -> BTreeSet<Name> {
        let dns = self.dns_names().into_iter().map(|name| Name::Dns(name.to_ascii_lowercase()));
        dns.chain(self.ips.iter().copied().map(Name::Ip)).collect()
    }
}

/// A new self-signed CA, valid for the options' validity.
pub(super) fn new_ca(options: &CertOptions, now: SystemTime) -> Result<Ca> {
    let generate = |what| move |source| Error::Generate { what, source };
    let key = KeyPair::generate().map_err(generate("CA key"))?;
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, CA_COMMON_NAME);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let not_after = now.checked_add(options.validity).ok_or(Error::InvalidValidity { validity: options.validity })?;
    params.not_before = now.checked_sub(BACKDATE).unwrap_or(now).into();
    params.not_after = not_after.into();
    let certificate = params.self_signed(&key).map_err(generate("CA"))?;
    Ok(Ca {
        pem: certificate.pem(),
        key_pem: key.serialize_pem(),
        der: certificate.der().to_vec(),
        key,
        not_after: truncate_to_seconds(not_after),
    })
}

/// A serving certificate for the options' names, signed by `ca`, expiring no later than the CA.
/// Returns the certificate, its key and its expiry.
pub(super) fn serving_certificate(
    options: &CertOptions,
    now: SystemTime,
    ca: &Ca,
) -> Result<(String, String, SystemTime)> {
    let generate = |what| move |source| Error::Generate { what, source };
    let issuer = Issuer::from_ca_cert_der(&ca.der.as_slice().into(), &ca.key).map_err(generate("CA issuer"))?;
    let dns_names = options.dns_names();
    let mut params = CertificateParams::default();
    params.subject_alt_names = dns_names
        .into_iter()
        .map(|name| name.try_into().map(SanType::DnsName))
        .chain(options.ips.iter().map(|ip| Ok(SanType::IpAddress(*ip))))
        .collect::<Result<_, _>>()
        .map_err(generate("serving certificate"))?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, format!("{}.{}.svc", options.service_name, options.namespace));
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let wanted_end = now.checked_add(options.validity).ok_or(Error::InvalidValidity { validity: options.validity })?;
    let not_after = truncate_to_seconds(wanted_end).min(ca.not_after);
    params.not_before = now.checked_sub(BACKDATE).unwrap_or(now).into();
    params.not_after = not_after.into();
    let key = KeyPair::generate().map_err(generate("serving key"))?;
    let certificate = params.signed_by(&key, &issuer).map_err(generate("serving certificate"))?;
    Ok((certificate.pem(), key.serialize_pem(), not_after))
}

/// The stored CA, if it is a CA certificate whose key is the one stored with it.
pub(super) fn read_ca(pem: Option<String>, key_pem: Option<String>) -> Result<Ca, Unusable> {
    let pem = pem.ok_or(Unusable::Missing { key: CA_CRT })?;
    let key_pem = key_pem.ok_or(Unusable::Missing { key: CA_KEY })?;
    let der = match parse_pem_certificates(&pem)?.as_slice() {
        [der] => der.clone(),
        _ => return Err(Unusable::NotOneCa),
    };
    let (_, certificate) = X509Certificate::from_der(&der).map_err(|error| Unusable::Parse { key: CA_CRT, error })?;
    if !certificate.is_ca() {
        return Err(Unusable::NotCa);
    }
    let key = KeyPair::from_pem(&key_pem).map_err(|error| Unusable::ParseKey { key: CA_KEY, error })?;
    if certificate.public_key().subject_public_key.data.as_ref() != key.der_bytes() {
        return Err(Unusable::KeyMismatch { key: CA_KEY, certificate: CA_CRT });
    }
    let not_after = to_system_time(certificate.validity().not_after.timestamp());
    Ok(Ca { pem, key_pem, key, der, not_after })
}

/// The stored serving certificate, if it is signed by `ca`, matches its key and has exactly
/// the `wanted` names.
pub(super) fn read_serving(
    pem: Option<String>,
    key_pem: Option<String>,
    ca: &Ca,
    wanted: &BTreeSet<Name>,
) -> Result<Serving, Unusable> {
    let pem = pem.ok_or(Unusable::Missing { key: TLS_CRT })?;
    let key_pem = key_pem.ok_or(Unusable::Missing { key: TLS_KEY })?;
    let der = match parse_pem_certificates(&pem)?.as_slice() {
        [der, ..] => der.clone(),
        [] => return Err(Unusable::NoCertificate),
    };
    let (_, certificate) = X509Certificate::from_der(&der).map_err(|error| Unusable::Parse { key: TLS_CRT, error })?;
    let (_, ca_certificate) =
        X509Certificate::from_der(&ca.der).map_err(|error| Unusable::Parse { key: CA_CRT, error })?;
    certificate.verify_signature(Some(ca_certificate.public_key())).map_err(|_| Unusable::NotSignedByCa)?;
    let key = KeyPair::from_pem(&key_pem).map_err(|error| Unusable::ParseKey { key: TLS_KEY, error })?;
    if certificate.public_key().subject_public_key.data.as_ref() != key.der_bytes() {
        return Err(Unusable::KeyMismatch { key: TLS_KEY, certificate: TLS_CRT });
    }
    let names = subject_alt_names(&certificate).map_err(|error| Unusable::Names { error })?;
    if names != *wanted {
        return Err(Unusable::OtherNames);
    }
    let not_after = to_system_time(certificate.validity().not_after.timestamp());
    Ok(Serving { cert_pem: pem, key_pem, not_after })
}

pub(super) fn subject_alt_names(certificate: &X509Certificate<'_>) -> Result<BTreeSet<Name>, X509Error> {
    let Some(extension) = certificate.subject_alternative_name()? else { return Ok(BTreeSet::new()) };
    Ok(extension
        .value
        .general_names
        .iter()
        .map(|name| match name {
            GeneralName::DNSName(dns) => Name::Dns(dns.to_ascii_lowercase()),
            GeneralName::IPAddress(bytes) => match <[u8; 4]>::try_from(*bytes) {
                Ok(v4) => Name::Ip(IpAddr::from(v4)),
                Err(_) => match <[u8; 16]>::try_from(*bytes) {
                    Ok(v6) => Name::Ip(IpAddr::from(v6)),
                    Err(_) => Name::Other(format!("{name}")),
                },
            },
            other => Name::Other(format!("{other}")),
        })
        .collect())
}

/// The DER of every certificate in a PEM text; an error for anything else in it.
pub(super) fn parse_pem_certificates(pem: &str) -> Result<Vec<Vec<u8>>, PemError> {
    Pem::iter_from_buffer(pem.as_bytes())
        .map(|block| match block {
            Ok(block) if block.label == "CERTIFICATE" => Ok(block.contents),
            Ok(block) => Err(PemError::UnexpectedBlock { label: block.label }),
            Err(error) => Err(PemError::NotPem { error }),
        })
        .collect()
}

pub(super) fn bundle_contains(bundle_pem: &str, der: &[u8]) -> bool {
    parse_pem_certificates(bundle_pem).is_ok_and(|certificates| certificates.iter().any(|each| each == der))
}

pub(super) fn not_after(der: &[u8]) -> Option<SystemTime> {
    let (_, certificate) = X509Certificate::from_der(der).ok()?;
    Some(to_system_time(certificate.validity().not_after.timestamp()))
}

fn to_system_time(seconds: i64) -> SystemTime {
    match u64::try_from(seconds) {
        Ok(seconds) => UNIX_EPOCH + Duration::from_secs(seconds),
        Err(_) => UNIX_EPOCH - Duration::from_secs(seconds.unsigned_abs()),
    }
}

fn seconds_since_epoch(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map(|since| since.as_secs()).unwrap_or_default()
}

pub(super) fn display_time(time: SystemTime) -> String {
    let seconds = i64::try_from(seconds_since_epoch(time)).unwrap_or(i64::MAX);
    ASN1Time::from_timestamp(seconds).map(|time| time.to_string()).unwrap_or_default()
}

/// X.509 times have whole seconds.
fn truncate_to_seconds(time: SystemTime) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds_since_epoch(time))
}
