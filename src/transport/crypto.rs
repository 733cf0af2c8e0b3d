//! The cryptography under a WebRTC connection, for str0m: SRTP's ciphers
//! (AES-128-CM with HMAC-SHA1-80, AES-GCM), the HMAC-SHA1 of STUN, the
//! hashes of certificate fingerprints, a self-signed ECDSA P-256 DTLS
//! certificate, and DTLS itself (dimpl, on the P-256 / AES-128-GCM provider
//! of `transport::dtls_crypto`).
//!
//! Everything here is pure Rust (the RustCrypto crates). A C crypto
//! library would bring in far more than WebRTC uses — RSA, post-quantum
//! schemes, Ed25519 — about 0.8 MB of an app's library. The AES and GHASH
//! implementations pick the CPU's AES instructions at run time (AES-NI and
//! PCLMULQDQ on x86_64, the ARMv8 crypto extensions on aarch64).
//!
//! [`provider`] hands str0m static instances; the only state kept is the
//! DTLS configuration per MTU, built once per process (see `dtls_config`).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use aes::cipher::{BlockCipherEncrypt, InnerIvInit, KeyInit, StreamCipher};
use aes::{Aes128, Aes256};
use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{AeadInOut, Tag};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use hmac::{Hmac, Mac};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::EncodePrivateKey;
use sha1::{Digest, Sha1};
use sha2::Sha256;
use str0m::config::{CryptoProvider, DtlsCert};
use str0m::crypto::dtls::{DtlsImplError, DtlsInstance, DtlsOutput, DtlsProvider};
use str0m::crypto::dtls::{DtlsVersion, ProtocolVersion};
use str0m::crypto::{AeadAes128GcmCipher, AeadAes256GcmCipher, Aes128CmSha1_80Cipher};
use str0m::crypto::{Sha1HmacProvider, Sha1Provider, Sha256Provider, SrtpProvider};
use str0m::crypto::{SupportedAeadAes128Gcm, SupportedAeadAes256Gcm, SupportedAes128CmSha1_80};
use str0m_proto::crypto::CryptoError;

/// The provider every [`str0m::Rtc`] of the engine is built with.
pub fn provider() -> Arc<CryptoProvider> {
    static SRTP: Srtp = Srtp;
    static HASHES: Hashes = Hashes;
    static DTLS: Dtls = Dtls;
    Arc::new(CryptoProvider {
        srtp_provider: &SRTP,
        sha1_hmac_provider: &HASHES,
        sha1_provider: &HASHES,
        sha256_provider: &HASHES,
        dtls_provider: &DTLS,
    })
}

// ---------------------------------------------------------------- hashes

#[derive(Debug)]
struct Hashes;

impl Sha1Provider for Hashes {
    fn sha1(&self, data: &[u8]) -> [u8; 20] {
        Sha1::digest(data).into()
    }
}

impl Sha256Provider for Hashes {
    fn sha256(&self, data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }
}

impl Sha1HmacProvider for Hashes {
    fn sha1_hmac(&self, key: &[u8], payloads: &[&[u8]]) -> [u8; 20] {
        // HMAC takes a key of any length.
        let mut mac =
            <Hmac<Sha1> as KeyInit>::new_from_slice(key).expect("HMAC accepts any key length");
        for payload in payloads {
            mac.update(payload);
        }
        mac.finalize().into_bytes().into()
    }
}

// ------------------------------------------------------------------ SRTP

#[derive(Debug)]
struct Srtp;

impl SrtpProvider for Srtp {
    fn aes_128_cm_sha1_80(&self) -> &'static dyn SupportedAes128CmSha1_80 {
        &Srtp
    }

    fn aead_aes_128_gcm(&self) -> &'static dyn SupportedAeadAes128Gcm {
        &Srtp
    }

    fn aead_aes_256_gcm(&self) -> &'static dyn SupportedAeadAes256Gcm {
        &Srtp
    }

    fn srtp_aes_128_ecb_round(&self, key: &[u8], input: &[u8], output: &mut [u8]) {
        let cipher = Aes128::new_from_slice(key).expect("SRTP derives 16-byte AES-128 keys");
        ecb(&cipher, input, output);
    }

    fn srtp_aes_256_ecb_round(&self, key: &[u8], input: &[u8], output: &mut [u8]) {
        let cipher = Aes256::new_from_slice(key).expect("SRTP derives 32-byte AES-256 keys");
        ecb(&cipher, input, output);
    }
}

/// One AES block operation per 16 bytes of `input` (SRTP's key
/// derivation asks for single blocks).
fn ecb<C: BlockCipherEncrypt<BlockSize = aes::cipher::consts::U16>>(
    cipher: &C,
    input: &[u8],
    output: &mut [u8],
) {
    for (inp, out) in input.chunks_exact(16).zip(output.chunks_exact_mut(16)) {
        let (Ok(inp), Ok(out)) = (<&[u8; 16]>::try_from(inp), <&mut [u8; 16]>::try_from(out))
        else {
            unreachable!("chunks_exact yields 16-byte blocks");
        };
        cipher.encrypt_block_b2b(inp.into(), out.into());
    }
}

impl SupportedAes128CmSha1_80 for Srtp {
    fn create_cipher(&self, key: [u8; 16], _encrypt: bool) -> Box<dyn Aes128CmSha1_80Cipher> {
        Box::new(AesCounter {
            cipher: Aes128::new(&key.into()),
        })
    }
}

impl SupportedAeadAes128Gcm for Srtp {
    fn create_cipher(&self, key: [u8; 16], _encrypt: bool) -> Box<dyn AeadAes128GcmCipher> {
        Box::new(Gcm(Aes128Gcm::new(&key.into())))
    }
}

impl SupportedAeadAes256Gcm for Srtp {
    fn create_cipher(&self, key: [u8; 32], _encrypt: bool) -> Box<dyn AeadAes256GcmCipher> {
        Box::new(Gcm(Aes256Gcm::new(&key.into())))
    }
}

/// AES-128 in counter mode (RFC 3711 AES-CM); the key schedule is expanded
/// once per session key, the counter starts at each packet's IV.
struct AesCounter {
    cipher: Aes128,
}

impl std::fmt::Debug for AesCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AesCounter")
    }
}

impl Aes128CmSha1_80Cipher for AesCounter {
    fn encrypt(
        &mut self,
        iv: &[u8; 16],
        input: &[u8],
        output: &mut [u8],
    ) -> Result<(), CryptoError> {
        let out = output
            .get_mut(..input.len())
            .ok_or_else(|| CryptoError::Other("SRTP output shorter than its input".into()))?;
        let core = ctr::CtrCore::<Aes128, ctr::flavors::Ctr128BE>::inner_iv_init(
            self.cipher.clone(),
            iv.into(),
        );
        let mut ctr = ctr::Ctr128BE::<Aes128>::from_core(core);
        ctr.apply_keystream_b2b(input, out);
        Ok(())
    }

    fn decrypt(
        &mut self,
        iv: &[u8; 16],
        input: &[u8],
        output: &mut [u8],
    ) -> Result<(), CryptoError> {
        // Counter mode is its own inverse.
        self.encrypt(iv, input, output)
    }
}

/// AES-GCM (RFC 7714) with the 16-byte tag after the ciphertext.
struct Gcm<A>(A);

impl<A> std::fmt::Debug for Gcm<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Gcm")
    }
}

/// AES-GCM's tag length, in SRTP and in DTLS records.
pub(super) const GCM_TAG: usize = 16;

impl<A: AeadInOut<NonceSize = aes::cipher::consts::U12, TagSize = aes::cipher::consts::U16>>
    Gcm<A>
{
    fn seal(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        input: &[u8],
        output: &mut [u8],
    ) -> Result<(), CryptoError> {
        let len = input.len();
        if output.len() < len + GCM_TAG {
            return Err(CryptoError::Other(
                "SRTP output has no room for the GCM tag".into(),
            ));
        }
        let buf = InOutBuf::new(input, &mut output[..len]).expect("equal lengths");
        let tag = self
            .0
            .encrypt_inout_detached(iv.into(), aad, buf)
            .map_err(|_| CryptoError::Other("AES-GCM encryption failed".into()))?;
        output[len..len + GCM_TAG].copy_from_slice(&tag);
        Ok(())
    }

    fn open(
        &self,
        iv: &[u8; 12],
        aads: &[&[u8]],
        input: &[u8],
        output: &mut [u8],
    ) -> Result<usize, CryptoError> {
        let Some(ct_len) = input.len().checked_sub(GCM_TAG) else {
            return Err(CryptoError::Other(
                "SRTP packet shorter than the GCM tag".into(),
            ));
        };
        if output.len() < ct_len {
            return Err(CryptoError::Other(
                "SRTP output shorter than the plaintext".into(),
            ));
        }
        let (ciphertext, tag) = input.split_at(ct_len);
        let tag = <&Tag<A>>::try_from(tag).expect("a 16-byte tag");
        let buf = InOutBuf::new(ciphertext, &mut output[..ct_len]).expect("equal lengths");
        let opened = match aads {
            [aad] => self.0.decrypt_inout_detached(iv.into(), aad, buf, tag),
            _ => {
                // The header and its extension come as separate slices.
                let aad = aads.concat();
                self.0.decrypt_inout_detached(iv.into(), &aad, buf, tag)
            }
        };
        opened.map_err(|_| CryptoError::Other("AES-GCM authentication failed".into()))?;
        Ok(ct_len)
    }
}

/// str0m names one trait per key size; both seal and open alike.
macro_rules! gcm_cipher {
    ($cipher:ident, $aead:ty) => {
        impl $cipher for Gcm<$aead> {
            fn encrypt(
                &mut self,
                iv: &[u8; 12],
                aad: &[u8],
                input: &[u8],
                output: &mut [u8],
            ) -> Result<(), CryptoError> {
                self.seal(iv, aad, input, output)
            }

            fn decrypt(
                &mut self,
                iv: &[u8; 12],
                aads: &[&[u8]],
                input: &[u8],
                output: &mut [u8],
            ) -> Result<usize, CryptoError> {
                self.open(iv, aads, input, output)
            }
        }
    };
}

gcm_cipher!(AeadAes128GcmCipher, Aes128Gcm);
gcm_cipher!(AeadAes256GcmCipher, Aes256Gcm);

// ------------------------------------------------------------------ DTLS

#[derive(Debug)]
struct Dtls;

/// How long the generated certificate is valid. Browsers only compare its
/// fingerprint with the one in the SDP, but some check the dates.
const CERT_VALID_DAYS: i64 = 30;

impl DtlsProvider for Dtls {
    fn generate_certificate(&self) -> Option<DtlsCert> {
        match self_signed_certificate() {
            Ok(cert) => Some(cert),
            Err(e) => {
                tracing::error!("DTLS certificate generation failed: {e}");
                None
            }
        }
    }

    fn new_dtls(
        &self,
        cert: &DtlsCert,
        now: Instant,
        version: DtlsVersion,
        mtu: Option<usize>,
    ) -> Result<Box<dyn DtlsInstance>, CryptoError> {
        let config = dtls_config(mtu)?;
        let cert = cert.clone();
        let dtls = match version {
            DtlsVersion::Dtls12 => dimpl::Dtls::new_12(config, cert, now),
            DtlsVersion::Dtls13 => dimpl::Dtls::new_13(config, cert, now),
            DtlsVersion::Auto => dimpl::Dtls::new_auto(config, cert, now),
            other => {
                return Err(CryptoError::Other(format!(
                    "unsupported DTLS version {other}"
                )))
            }
        };
        Ok(Box::new(DtlsSession(dtls)))
    }
}

/// When DTLS first resends an unanswered flight; each later resend waits
/// twice as long. DTLS starts once ICE has found a working path, whose
/// round trip is tens of milliseconds for most calls: RFC 6347's 1 s made
/// a handshake through 20 % loss take 5-8 s (a flight of several datagrams
/// is lost about half the time). A path slower than this round trip sends
/// its first flights twice, a few hundred bytes.
const FLIGHT_START_RTO: std::time::Duration = std::time::Duration::from_millis(250);
/// Resends per flight: 0.25 + 0.5 + … + 8 s, about 16 s before a flight
/// gives up, within the connection's own 20 s connect timeout.
const FLIGHT_RETRIES: usize = 6;

/// The DTLS configuration for an MTU, built once per process: building one
/// checks the whole crypto provider (a key exchange per group, a signature
/// per suite), ~5 ms in Rust, which would otherwise delay every call.
fn dtls_config(mtu: Option<usize>) -> Result<Arc<dimpl::Config>, CryptoError> {
    static CONFIGS: Mutex<Vec<(Option<usize>, Arc<dimpl::Config>)>> = Mutex::new(Vec::new());
    let mut configs = CONFIGS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, config)) = configs.iter().find(|(m, _)| *m == mtu) {
        return Ok(config.clone());
    }
    // ICE has already proven the peer answers at its address, which is
    // what a DTLS server cookie would prove.
    let mut builder = dimpl::Config::builder()
        .with_crypto_provider(super::dtls_crypto::provider())
        .use_server_cookie(false)
        .flight_start_rto(FLIGHT_START_RTO)
        .flight_retries(FLIGHT_RETRIES);
    if let Some(mtu) = mtu {
        builder = builder.mtu(mtu);
    }
    let config = Arc::new(
        builder
            .build()
            .map_err(|e| CryptoError::Other(format!("DTLS configuration: {e}")))?,
    );
    configs.push((mtu, config.clone()));
    Ok(config)
}

struct DtlsSession(dimpl::Dtls);

impl std::fmt::Debug for DtlsSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DtlsSession")
    }
}

impl DtlsInstance for DtlsSession {
    fn set_active(&mut self, active: bool) {
        self.0.set_active(active)
    }

    fn handle_packet(&mut self, packet: &[u8]) -> Result<(), DtlsImplError> {
        self.0.handle_packet(packet)
    }

    fn poll_output<'a>(&mut self, buf: &'a mut [u8]) -> DtlsOutput<'a> {
        self.0.poll_output(buf)
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), DtlsImplError> {
        self.0.handle_timeout(now)
    }

    fn send_application_data(&mut self, data: &[u8]) -> Result<usize, DtlsImplError> {
        self.0.send_application_data(data)
    }

    fn is_active(&self) -> bool {
        self.0.is_active()
    }

    fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.0.protocol_version()
    }

    fn is_closing(&self) -> bool {
        self.0.is_closing()
    }

    fn is_closed(&self) -> bool {
        self.0.is_closed()
    }

    fn close(&mut self) -> Result<(), DtlsImplError> {
        self.0.close()
    }
}

/// A fresh P-256 key and a self-signed certificate for it, DER encoded;
/// the private key as PKCS#8, which dimpl loads.
pub(super) fn self_signed_certificate() -> Result<DtlsCert, String> {
    let key = CertKey::generate()?;
    let mut params =
        rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "libmedia");
    let today = time::OffsetDateTime::now_utc();
    params.not_before = today - time::Duration::days(1);
    params.not_after = today + time::Duration::days(CERT_VALID_DAYS);
    let mut serial = [0u8; 16];
    getrandom::fill(&mut serial).map_err(|e| format!("no randomness: {e}"))?;
    serial[0] &= 0x7f; // a positive INTEGER
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    let private_key = key
        .signing
        .to_pkcs8_der()
        .map_err(|e| format!("PKCS#8 encoding: {e}"))?
        .as_bytes()
        .to_vec();
    Ok(DtlsCert {
        certificate: cert.der().to_vec(),
        private_key,
    })
}

/// The certificate's key, as rcgen signs with it.
struct CertKey {
    signing: SigningKey,
    /// The public point, SEC1 uncompressed.
    public: Vec<u8>,
}

impl CertKey {
    fn generate() -> Result<Self, String> {
        // A uniformly random 32-byte string is a valid scalar unless it is
        // zero or above the group order (about 2^-32): draw again then.
        for _ in 0..8 {
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret).map_err(|e| format!("no randomness: {e}"))?;
            if let Ok(signing) = SigningKey::from_slice(&secret) {
                let public = signing
                    .verifying_key()
                    .to_sec1_point(false)
                    .as_bytes()
                    .to_vec();
                return Ok(CertKey { signing, public });
            }
        }
        Err("no valid P-256 scalar drawn".into())
    }
}

impl rcgen::PublicKeyData for CertKey {
    fn der_bytes(&self) -> &[u8] {
        &self.public
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

impl rcgen::SigningKey for CertKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let signature: DerSignature = self.signing.sign(msg);
        Ok(signature.as_bytes().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn hashes_and_stun_hmac_match_their_standards() {
        let p = provider();
        // FIPS 180 "abc" vectors.
        assert_eq!(
            p.sha1_provider.sha1(b"abc").to_vec(),
            hex("a9993e364706816aba3e25717850c26c9cd0d89d")
        );
        assert_eq!(
            p.sha256_provider.sha256(b"abc").to_vec(),
            hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        // RFC 2202 test case 2, the message in two pieces as STUN hands it.
        let mac = p
            .sha1_hmac_provider
            .sha1_hmac(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            mac.to_vec(),
            hex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
        );
    }

    #[test]
    fn aes_counter_mode_matches_rfc3711() {
        // RFC 3711 B.2: the keystream for this key and IV, taken by
        // encrypting zeros; decrypting gives the zeros back.
        let p = provider();
        let key: [u8; 16] = hex("2b7e151628aed2a6abf7158809cf4f3c").try_into().unwrap();
        let iv: [u8; 16] = hex("f0f1f2f3f4f5f6f7f8f9fafbfcfd0000").try_into().unwrap();
        let mut cipher = p
            .srtp_provider
            .aes_128_cm_sha1_80()
            .create_cipher(key, true);
        let mut out = [0u8; 48];
        cipher.encrypt(&iv, &[0u8; 48], &mut out).unwrap();
        let expected = hex(concat!(
            "e03ead0935c95e80e166b16dd92b4eb4",
            "d23513162b02d0f72a43a2fe4a5f97ab",
            "41e95b3bb0a2e8dd477901e4fca894c0"
        ));
        assert_eq!(out.to_vec(), expected);
        let mut back = [0u8; 48];
        cipher.decrypt(&iv, &out, &mut back).unwrap();
        assert_eq!(back, [0u8; 48]);
        // A short output is an error, not a panic.
        assert!(cipher.encrypt(&iv, &[0u8; 48], &mut [0u8; 10]).is_err());
    }

    #[test]
    fn aes_block_round_matches_fips197() {
        let p = provider();
        let mut out = [0u8; 16];
        p.srtp_provider.srtp_aes_128_ecb_round(
            &hex("000102030405060708090a0b0c0d0e0f"),
            &hex("00112233445566778899aabbccddeeff"),
            &mut out,
        );
        assert_eq!(out.to_vec(), hex("69c4e0d86a7b0430d8cdb78070b4c55a"));
        p.srtp_provider.srtp_aes_256_ecb_round(
            &hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"),
            &hex("00112233445566778899aabbccddeeff"),
            &mut out,
        );
        assert_eq!(out.to_vec(), hex("8ea2b7ca516745bfeafc49904b496089"));
    }

    #[test]
    fn aes_gcm_seals_opens_and_rejects_tampering() {
        let p = provider();
        // The GCM specification's test case 2: zero key, zero IV, one zero
        // block, no associated data.
        let mut gcm = p
            .srtp_provider
            .aead_aes_128_gcm()
            .create_cipher([0; 16], true);
        let mut sealed = [0u8; 32];
        gcm.encrypt(&[0; 12], &[], &[0; 16], &mut sealed).unwrap();
        assert_eq!(
            sealed.to_vec(),
            hex("0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf")
        );

        // A packet: the header is the associated data, which str0m may hand
        // over in two pieces.
        let key: [u8; 32] = std::array::from_fn(|i| i as u8);
        let mut gcm = p.srtp_provider.aead_aes_256_gcm().create_cipher(key, true);
        let iv = [7u8; 12];
        let header = b"0123456789abcdef";
        let payload = b"an RTP payload of some length";
        let mut sealed = vec![0u8; payload.len() + 16];
        gcm.encrypt(&iv, header, payload, &mut sealed).unwrap();
        let mut opened = vec![0u8; payload.len()];
        let n = gcm
            .decrypt(&iv, &[&header[..12], &header[12..]], &sealed, &mut opened)
            .unwrap();
        assert_eq!(&opened[..n], payload);
        let mut tampered = sealed.clone();
        tampered[3] ^= 1;
        assert!(gcm.decrypt(&iv, &[header], &tampered, &mut opened).is_err());
        assert!(gcm
            .decrypt(&iv, &[b"another header.."], &sealed, &mut opened)
            .is_err());
        // Shorter than a tag: an error.
        assert!(gcm
            .decrypt(&iv, &[header], &sealed[..8], &mut opened)
            .is_err());
    }

    #[test]
    fn certificates_are_fresh_p256_keys_that_dimpl_loads() {
        let a = Dtls.generate_certificate().expect("a certificate");
        let b = Dtls.generate_certificate().expect("a certificate");
        assert_ne!(a.certificate, b.certificate);
        assert_ne!(a.private_key, b.private_key);
        // A DER SEQUENCE holding the public key of the private key.
        assert_eq!(a.certificate[0], 0x30);
        use p256::pkcs8::DecodePrivateKey;
        let key = SigningKey::from_pkcs8_der(&a.private_key).expect("PKCS#8 P-256 key");
        let public = key.verifying_key().to_sec1_point(false);
        assert!(a
            .certificate
            .windows(public.as_bytes().len())
            .any(|w| w == public.as_bytes()));
        // dimpl accepts the pair for both versions.
        for version in [DtlsVersion::Dtls12, DtlsVersion::Dtls13] {
            Dtls.new_dtls(&a, Instant::now(), version, None)
                .expect("a DTLS instance");
        }
    }
}
