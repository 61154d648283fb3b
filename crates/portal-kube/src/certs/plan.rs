//! Deciding, from the Secret's current data alone, what to do with it: adopt the certificates
//! in it, reissue the serving certificate with the same CA, or make a new CA (keeping the
//! previous one in the bundle). Pure: no cluster and no files, so it is tested without either.

use std::collections::BTreeMap;
use std::time::SystemTime;

use k8s_openapi::ByteString;

use super::bundle::{CA_BUNDLE, CA_CRT, CA_KEY, CertBundle, Outcome, TLS_CRT, TLS_KEY};
use super::error::Result;
use super::options::CertOptions;
use super::x509::{
    Ca, bundle_contains, new_ca, not_after, parse_pem_certificates, read_ca, read_serving, serving_certificate,
};

/// What to do with the Secret's current contents.
pub(super) enum Plan {
    Adopt(CertBundle),
    Write { material: Material, outcome: Outcome, reason: String },
}

/// What goes into the Secret.
pub(super) struct Material {
    cert_pem: String,
    key_pem: String,
    ca_pem: String,
    ca_key_pem: String,
    ca_bundle_pem: String,
    not_after: SystemTime,
}

impl Material {
    /// The Secret's data: `others` (keys this module does not own) with this material on top.
    pub(super) fn data(&self, mut others: BTreeMap<String, ByteString>) -> BTreeMap<String, ByteString> {
        for (key, value) in [
            (TLS_CRT, &self.cert_pem),
            (TLS_KEY, &self.key_pem),
            (CA_CRT, &self.ca_pem),
            (CA_KEY, &self.ca_key_pem),
            (CA_BUNDLE, &self.ca_bundle_pem),
        ] {
            others.insert(key.to_owned(), ByteString(value.as_bytes().to_vec()));
        }
        others
    }

    pub(super) fn into_bundle(self, outcome: Outcome) -> CertBundle {
        CertBundle {
            cert_pem: self.cert_pem,
            key_pem: self.key_pem,
            ca_pem: self.ca_pem,
            ca_bundle_pem: self.ca_bundle_pem,
            not_after: self.not_after,
            outcome,
        }
    }
}

/// Decides, from the Secret's data alone, whether to adopt it or what to write instead.
/// Certificates expiring at or before `horizon` are renewed.
pub(super) fn plan(
    data: &BTreeMap<String, ByteString>,
    options: &CertOptions,
    now: SystemTime,
    horizon: SystemTime,
) -> Result<Plan> {
    let get = |key: &str| data.get(key).map(|value| String::from_utf8_lossy(&value.0).into_owned());
    let ca = match read_ca(get(CA_CRT), get(CA_KEY)) {
        Ok(ca) if ca.not_after > horizon => ca,
        usable_or_not => {
            let reason = match usable_or_not {
                Ok(_) => "the CA is due for renewal".to_owned(),
                Err(unusable) => unusable.to_string(),
            };
            // Replicas may still serve certificates of the old CA: keep trusting it.
            let previous = get(CA_CRT).filter(|pem| match parse_pem_certificates(pem).as_deref() {
                Ok([der]) => not_after(der).is_some_and(|end| end > now),
                _ => false,
            });
            let material = new_ca_and_certificate(options, now, previous.as_deref())?;
            let outcome = if data.contains_key(CA_CRT) { Outcome::Renewed } else { Outcome::Created };
            return Ok(Plan::Write { material, outcome, reason });
        }
    };
    let stored_bundle = get(CA_BUNDLE);
    let bundle = stored_bundle.clone().filter(|pem| bundle_contains(pem, &ca.der)).unwrap_or_else(|| ca.pem.clone());
    let serving = match read_serving(get(TLS_CRT), get(TLS_KEY), &ca, &options.wanted_names()) {
        Ok(serving) if serving.not_after > horizon => serving,
        Ok(_) => return reissue(options, now, ca, bundle, "the serving certificate is due for renewal".to_owned()),
        Err(unusable) => return reissue(options, now, ca, bundle, unusable.to_string()),
    };
    if stored_bundle.as_deref() != Some(bundle.as_str()) {
        return reissue(options, now, ca, bundle, format!("{CA_BUNDLE} does not hold the current CA"));
    }
    Ok(Plan::Adopt(CertBundle {
        cert_pem: serving.cert_pem,
        key_pem: serving.key_pem,
        ca_pem: ca.pem,
        ca_bundle_pem: bundle,
        not_after: serving.not_after,
        outcome: Outcome::Adopted,
    }))
}

fn reissue(options: &CertOptions, now: SystemTime, ca: Ca, bundle: String, reason: String) -> Result<Plan> {
    let (cert_pem, key_pem, not_after) = serving_certificate(options, now, &ca)?;
    let material =
        Material { cert_pem, key_pem, ca_pem: ca.pem, ca_key_pem: ca.key_pem, ca_bundle_pem: bundle, not_after };
    Ok(Plan::Write { material, outcome: Outcome::Reissued, reason })
}

/// A new CA and a serving certificate signed by it; the bundle is the new CA then `previous`.
fn new_ca_and_certificate(options: &CertOptions, now: SystemTime, previous: Option<&str>) -> Result<Material> {
    let ca = new_ca(options, now)?;
    let (cert_pem, key_pem, serving_not_after) = serving_certificate(options, now, &ca)?;
    let mut ca_bundle_pem = ca.pem.clone();
    if let Some(previous) = previous {
        ca_bundle_pem.push_str(previous.trim_end());
        ca_bundle_pem.push('\n');
    }
    Ok(Material {
        cert_pem,
        key_pem,
        ca_pem: ca.pem,
        ca_key_pem: ca.key_pem,
        ca_bundle_pem,
        not_after: serving_not_after,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::BTreeSet;
    use std::time::Duration;

    use x509_parser::certificate::X509Certificate;
    use x509_parser::prelude::FromDer as _;

    use super::*;
    use crate::certs::options::{DEFAULT_RENEW_BEFORE, DEFAULT_VALIDITY};
    use crate::certs::test_support::options;
    use crate::certs::x509::{CA_COMMON_NAME, Name, subject_alt_names};

    const DAY: Duration = Duration::from_secs(24 * 60 * 60);

    /// Runs `plan` as a first call at `now` would, and returns what it decided and the data
    /// the Secret would then hold.
    fn run(
        data: &BTreeMap<String, ByteString>,
        options: &CertOptions,
        now: SystemTime,
    ) -> (Outcome, String, BTreeMap<String, ByteString>) {
        match plan(data, options, now, now + options.renew_before).unwrap() {
            Plan::Adopt(bundle) => (bundle.outcome, String::new(), data.clone()),
            Plan::Write { material, outcome, reason } => (outcome, reason, material.data(data.clone())),
        }
    }

    fn text(data: &BTreeMap<String, ByteString>, key: &str) -> String {
        String::from_utf8(data[key].0.clone()).unwrap()
    }

    fn certificates(pem: &str) -> Vec<Vec<u8>> {
        parse_pem_certificates(pem).unwrap()
    }

    fn names(cert_pem: &str) -> BTreeSet<Name> {
        let der = certificates(cert_pem).remove(0);
        subject_alt_names(&X509Certificate::from_der(&der).unwrap().1).unwrap()
    }

    #[test]
    fn an_empty_secret_gets_a_ca_and_a_serving_certificate_for_the_names() {
        let now = SystemTime::now();
        let (outcome, _, data) = run(&BTreeMap::new(), &options(), now);
        assert_eq!(outcome, Outcome::Created);
        let ca = read_ca(Some(text(&data, CA_CRT)), Some(text(&data, CA_KEY))).unwrap();
        let wanted = options().wanted_names();
        let serving = read_serving(Some(text(&data, TLS_CRT)), Some(text(&data, TLS_KEY)), &ca, &wanted).unwrap();
        assert_eq!(names(&text(&data, TLS_CRT)), wanted);
        assert!(wanted.contains(&Name::Ip("10.0.0.7".parse().unwrap())));
        assert_eq!(text(&data, CA_BUNDLE), text(&data, CA_CRT));
        let year = now + DEFAULT_VALIDITY;
        assert!(serving.not_after <= year && serving.not_after + Duration::from_secs(1) >= year);
        let (_, ca_certificate) = X509Certificate::from_der(&ca.der).unwrap();
        assert_eq!(ca_certificate.subject().to_string(), format!("CN={CA_COMMON_NAME}"));
    }

    #[test]
    fn a_usable_secret_is_adopted_as_it_is() {
        let now = SystemTime::now();
        let (_, _, data) = run(&BTreeMap::new(), &options(), now);
        let Plan::Adopt(bundle) = plan(&data, &options(), now, now + DEFAULT_RENEW_BEFORE).unwrap() else {
            panic!("expected the Secret to be adopted");
        };
        assert_eq!(bundle.outcome, Outcome::Adopted);
        assert_eq!(bundle.cert_pem, text(&data, TLS_CRT));
        assert_eq!(bundle.key_pem, text(&data, TLS_KEY));
        assert_eq!(bundle.ca_bundle_pem, text(&data, CA_BUNDLE));
    }

    #[test]
    fn other_names_reissue_the_serving_certificate_with_the_same_ca() {
        let now = SystemTime::now();
        let (_, _, data) = run(&BTreeMap::new(), &options(), now);
        let mut renamed = options();
        renamed.extra_dns = vec!["other.example.com".to_owned()];
        renamed.ips.clear();
        let (outcome, reason, reissued) = run(&data, &renamed, now);
        assert_eq!(outcome, Outcome::Reissued, "{reason}");
        assert!(reason.contains("other names"), "{reason}");
        assert_eq!(text(&reissued, CA_CRT), text(&data, CA_CRT));
        assert_eq!(text(&reissued, CA_BUNDLE), text(&data, CA_BUNDLE));
        assert_ne!(text(&reissued, TLS_KEY), text(&data, TLS_KEY));
        assert_eq!(names(&text(&reissued, TLS_CRT)), renamed.wanted_names());
    }

    #[test]
    fn a_ca_due_for_renewal_is_replaced_and_kept_in_the_bundle() {
        let now = SystemTime::now();
        let (_, _, data) = run(&BTreeMap::new(), &options(), now);
        let later = now + DEFAULT_VALIDITY - DEFAULT_RENEW_BEFORE + DAY;
        let (outcome, reason, renewed) = run(&data, &options(), later);
        assert_eq!(outcome, Outcome::Renewed, "{reason}");
        let bundle = certificates(&text(&renewed, CA_BUNDLE));
        assert_eq!(bundle, [certificates(&text(&renewed, CA_CRT)), certificates(&text(&data, CA_CRT))].concat());
        let ca = read_ca(Some(text(&renewed, CA_CRT)), Some(text(&renewed, CA_KEY))).unwrap();
        read_serving(Some(text(&renewed, TLS_CRT)), Some(text(&renewed, TLS_KEY)), &ca, &options().wanted_names())
            .unwrap();

        // The next renewal drops the oldest CA: the bundle holds at most two.
        let much_later = later + DEFAULT_VALIDITY - DEFAULT_RENEW_BEFORE + DAY;
        let (_, _, again) = run(&renewed, &options(), much_later);
        let bundle = certificates(&text(&again, CA_BUNDLE));
        assert_eq!(bundle, [certificates(&text(&again, CA_CRT)), certificates(&text(&renewed, CA_CRT))].concat());
    }

    #[test]
    fn a_mismatched_key_or_missing_ca_key_is_repaired() {
        let now = SystemTime::now();
        let (_, _, data) = run(&BTreeMap::new(), &options(), now);

        let mut swapped = data.clone();
        swapped.insert(TLS_KEY.to_owned(), data[CA_KEY].clone());
        let (outcome, reason, repaired) = run(&swapped, &options(), now);
        assert_eq!(outcome, Outcome::Reissued);
        assert_eq!(reason, "tls.key is not the key of tls.crt");
        assert_eq!(text(&repaired, CA_CRT), text(&data, CA_CRT));

        let mut keyless = data.clone();
        keyless.remove(CA_KEY);
        let (outcome, reason, renewed) = run(&keyless, &options(), now);
        assert_eq!(outcome, Outcome::Renewed);
        assert_eq!(reason, "ca.key is missing");
        // Replicas may still serve the certificate of the CA whose key was lost.
        assert!(bundle_contains(&text(&renewed, CA_BUNDLE), &certificates(&text(&data, CA_CRT))[0]));

        let mut foreign = data.clone();
        let (_, _, other) = run(&BTreeMap::new(), &options(), now);
        foreign.insert(TLS_CRT.to_owned(), other[TLS_CRT].clone());
        foreign.insert(TLS_KEY.to_owned(), other[TLS_KEY].clone());
        let (outcome, reason, _) = run(&foreign, &options(), now);
        assert_eq!((outcome, reason.as_str()), (Outcome::Reissued, "tls.crt is not signed by ca.crt"));
    }
}
