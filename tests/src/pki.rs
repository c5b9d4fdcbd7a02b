//! Test certificates, generated at test time with rcgen: a CA and leaves signed by it
//! (valid for 127.0.0.1 and localhost, expired, for another name), and a second, untrusted
//! CA. PEM strings only; the TLS configuration is built by the tests through `tether_rt`.

/// A certificate authority: its PEM, and what signs leaves with it.
pub struct Ca {
    /// The CA certificate, PEM.
    pub pem: String,
    params: rcgen::CertificateParams,
    key: rcgen::KeyPair,
}

/// A leaf certificate and its private key, PEM.
pub struct Leaf {
    /// The certificate, PEM.
    pub cert: String,
    /// Its private key, PEM.
    pub key: String,
    /// The key's SubjectPublicKeyInfo, DER (what a browser pins with
    /// `--ignore-certificate-errors-spki-list`, hashed).
    pub spki_der: Vec<u8>,
}

impl Ca {
    /// A new self-signed CA named `name`.
    pub fn new(name: &str) -> Ca {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
        let pem = params.self_signed(&key).expect("self-signed").pem();
        Ca { pem, params, key }
    }

    /// A leaf for `names` (DNS names or IP addresses), valid from `from` to `until`
    /// (years, January 1st).
    pub fn leaf_for(&self, names: &[&str], from: i32, until: i32) -> Leaf {
        let key = rcgen::KeyPair::generate().expect("key");
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = rcgen::CertificateParams::new(names).expect("params");
        params.not_before = rcgen::date_time_ymd(from, 1, 1);
        params.not_after = rcgen::date_time_ymd(until, 1, 1);
        let issuer = rcgen::Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).expect("signed");
        Leaf {
            cert: cert.pem(),
            key: key.serialize_pem(),
            spki_der: rcgen::PublicKeyData::subject_public_key_info(&key),
        }
    }

    /// A leaf valid now (2020 to 2100) for 127.0.0.1 and localhost.
    pub fn leaf(&self) -> Leaf {
        self.leaf_for(&["127.0.0.1", "localhost"], 2020, 2100)
    }
}
