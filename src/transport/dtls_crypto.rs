//! The cryptography DTLS (dimpl) runs on, limited to what WebRTC peers
//! negotiate: ECDHE on P-256, ECDSA P-256 certificates signed over SHA-256
//! (or SHA-384), and AES-128-GCM with SHA-256 — DTLS 1.2's
//! `TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256` and DTLS 1.3's
//! `TLS_AES_128_GCM_SHA256`. Chromium, Firefox and Safari all offer these.
//!
//! dimpl's own RustCrypto provider adds P-384, X25519, AES-256-GCM,
//! ChaCha20-Poly1305 and AES-CCM, which no WebRTC call here needs and
//! which cost an app about 0.15 MB of code and tables.
//!
//! Errors on bad input (a malformed peer key, certificate or signature, a
//! short or forged record) come back as dimpl's `CryptoError`; nothing
//! here panics.

use aes::cipher::{BlockCipherEncrypt, KeyInit};
use aes::Aes128;
use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{AeadInOut, Tag};
use aes_gcm::Aes128Gcm;
use dimpl::crypto::{
    check_verify_scheme, Aad, ActiveKeyExchange, Buf, Cipher, CryptoProvider, Dtls12CipherSuite,
    Dtls13CipherSuite, HashAlgorithm, HashContext, HashProvider, HmacProvider, KeyProvider,
    NamedGroup, Nonce, SecureRandom, SignatureAlgorithm, SignatureVerifier, SigningKey,
    SupportedDtls12CipherSuite, SupportedDtls13CipherSuite, SupportedKxGroup, TmpBuf, OID_P256,
};
use dimpl::{CryptoError, CryptoOperation};
use hmac::{Hmac, Mac};
use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use p256::ecdsa::{Signature, VerifyingKey};
use sha2::{Digest, Sha256, Sha384};

use super::crypto::GCM_TAG;

/// The provider every DTLS configuration of the engine is built with.
pub(super) fn provider() -> CryptoProvider {
    CryptoProvider {
        kx_groups: &[&P256Exchange],
        signature_verification: &P256Verifier,
        key_provider: &P256Keys,
        secure_random: &OsRandom,
        hash_provider: &Sha2Hashes,
        hmac_provider: &HmacSha256,
        cipher_suites: &[&Aes128GcmSha256],
        dtls13_cipher_suites: &[&Tls13Aes128GcmSha256],
    }
}

// ------------------------------------------------------- key exchange

#[derive(Debug)]
struct P256Exchange;

impl SupportedKxGroup for P256Exchange {
    fn name(&self) -> NamedGroup {
        NamedGroup::Secp256r1
    }

    fn start_exchange(&self, mut buf: Buf) -> Result<Box<dyn ActiveKeyExchange>, CryptoError> {
        use p256::elliptic_curve::Generate;
        let secret = p256::ecdh::EphemeralSecret::try_generate()
            .map_err(|_| CryptoError::OperationFailed(CryptoOperation::GenerateEphemeralKey))?;
        buf.clear();
        buf.extend_from_slice(&p256::PublicKey::from(&secret).to_sec1_bytes());
        Ok(Box::new(ActiveP256 {
            secret,
            public_key: buf,
        }))
    }
}

struct ActiveP256 {
    secret: p256::ecdh::EphemeralSecret,
    public_key: Buf,
}

impl std::fmt::Debug for ActiveP256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActiveP256").finish_non_exhaustive()
    }
}

impl ActiveKeyExchange for ActiveP256 {
    fn pub_key(&self) -> &[u8] {
        &self.public_key
    }

    fn complete(self: Box<Self>, peer_pub: &[u8], out: &mut Buf) -> Result<(), CryptoError> {
        let peer = p256::PublicKey::from_sec1_bytes(peer_pub)
            .map_err(|_| CryptoError::InvalidPublicKey(NamedGroup::Secp256r1))?;
        let shared = self.secret.diffie_hellman(&peer);
        out.clear();
        out.extend_from_slice(shared.raw_secret_bytes().as_slice());
        Ok(())
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::Secp256r1
    }
}

// ------------------------------------------------- certificate keys

/// Loads the engine's own certificate key: PKCS#8 P-256, as
/// `transport::crypto` generates it.
#[derive(Debug)]
struct P256Keys;

impl KeyProvider for P256Keys {
    fn load_private_key(&self, key_der: &[u8]) -> Result<Box<dyn SigningKey>, CryptoError> {
        use p256::pkcs8::DecodePrivateKey;
        let key = p256::ecdsa::SigningKey::from_pkcs8_der(key_der)
            .map_err(|_| CryptoError::InvalidPrivateKey)?;
        Ok(Box::new(P256Signer(key)))
    }
}

struct P256Signer(p256::ecdsa::SigningKey);

impl std::fmt::Debug for P256Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("P256Signer")
    }
}

impl SigningKey for P256Signer {
    fn sign(
        &mut self,
        data: &[u8],
        hash_alg: HashAlgorithm,
        out: &mut Buf,
    ) -> Result<(), CryptoError> {
        let signature: Result<Signature, _> = match hash_alg {
            HashAlgorithm::SHA256 => self.0.sign_prehash(&Sha256::digest(data)),
            HashAlgorithm::SHA384 => self.0.sign_prehash(&Sha384::digest(data)),
            hash => {
                return Err(CryptoError::SigningKeyUnsupportedHash {
                    group: NamedGroup::Secp256r1,
                    hash,
                })
            }
        };
        let signature =
            signature.map_err(|_| CryptoError::OperationFailed(CryptoOperation::Sign))?;
        out.clear();
        out.extend_from_slice(signature.to_der().as_bytes());
        Ok(())
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::ECDSA
    }

    fn hash_algorithm(&self) -> HashAlgorithm {
        HashAlgorithm::SHA256
    }

    fn supported_hash_algorithms(&self) -> &[HashAlgorithm] {
        &[HashAlgorithm::SHA256, HashAlgorithm::SHA384]
    }
}

/// Verifies the peer's handshake signature with the P-256 key of its
/// certificate (WebRTC certificates are self-signed: what binds one to the
/// call is its fingerprint in the SDP, which str0m checks).
#[derive(Debug)]
struct P256Verifier;

impl SignatureVerifier for P256Verifier {
    fn verify_signature(
        &self,
        cert_der: &[u8],
        data: &[u8],
        signature: &[u8],
        hash_alg: HashAlgorithm,
        sig_alg: SignatureAlgorithm,
    ) -> Result<(), CryptoError> {
        if sig_alg != SignatureAlgorithm::ECDSA {
            return Err(CryptoError::UnsupportedSignatureAlgorithm(sig_alg));
        }
        let group = NamedGroup::Secp256r1;
        check_verify_scheme(sig_alg, hash_alg, group)?;
        let key = certificate_public_key(cert_der)?;
        let signature =
            Signature::from_der(signature).map_err(|_| CryptoError::InvalidSignatureFormat)?;
        let verified = match hash_alg {
            HashAlgorithm::SHA256 => key.verify_prehash(&Sha256::digest(data), &signature),
            HashAlgorithm::SHA384 => key.verify_prehash(&Sha384::digest(data), &signature),
            hash => {
                return Err(CryptoError::UnsupportedSignatureVerification {
                    signature: sig_alg,
                    hash,
                    group,
                })
            }
        };
        verified.map_err(|_| CryptoError::SignatureVerificationFailed {
            signature: sig_alg,
            hash: hash_alg,
            group,
        })
    }
}

/// The P-256 public key of an X.509 certificate: its key must be an EC
/// key (`id-ecPublicKey`) on P-256.
fn certificate_public_key(cert_der: &[u8]) -> Result<VerifyingKey, CryptoError> {
    use x509_cert::der::{oid::ObjectIdentifier, Decode};
    const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
    let cert = x509_cert::Certificate::from_der(cert_der)
        .map_err(|_| CryptoError::CertificateParseFailed)?;
    let info = cert.tbs_certificate().subject_public_key_info();
    if info.algorithm.oid != ID_EC_PUBLIC_KEY {
        return Err(CryptoError::UnsupportedPublicKeyAlgorithm);
    }
    let curve: ObjectIdentifier = info
        .algorithm
        .parameters
        .as_ref()
        .ok_or(CryptoError::MissingEcCurveParameter)?
        .decode_as()
        .map_err(|_| CryptoError::InvalidEcCurveParameter)?;
    if curve != OID_P256 {
        return Err(CryptoError::UnsupportedEcCurve);
    }
    let point = info
        .subject_public_key
        .as_bytes()
        .ok_or(CryptoError::InvalidSubjectPublicKey)?;
    VerifyingKey::from_sec1_bytes(point)
        .map_err(|_| CryptoError::InvalidPublicKey(NamedGroup::Secp256r1))
}

// ------------------------------------------- hashes, HMAC, randomness

#[derive(Debug)]
struct Sha2Hashes;

#[derive(Debug, Clone)]
enum Sha2Context {
    Sha256(Sha256),
    Sha384(Sha384),
}

impl HashProvider for Sha2Hashes {
    fn create_hash(&self, algorithm: HashAlgorithm) -> Box<dyn HashContext> {
        // The suites and signature schemes offered here only ever ask for
        // SHA-256 and SHA-384; anything else gets SHA-256, whose digest
        // then fails the handshake's checks instead of panicking.
        match algorithm {
            HashAlgorithm::SHA384 => Box::new(Sha2Context::Sha384(Sha384::new())),
            other => {
                debug_assert_eq!(other, HashAlgorithm::SHA256, "dimpl asked for {other:?}");
                Box::new(Sha2Context::Sha256(Sha256::new()))
            }
        }
    }
}

impl HashContext for Sha2Context {
    fn update(&mut self, data: &[u8]) {
        match self {
            Sha2Context::Sha256(h) => h.update(data),
            Sha2Context::Sha384(h) => h.update(data),
        }
    }

    fn clone_and_finalize(&self, out: &mut Buf) {
        out.clear();
        match self.clone() {
            Sha2Context::Sha256(h) => out.extend_from_slice(&h.finalize()),
            Sha2Context::Sha384(h) => out.extend_from_slice(&h.finalize()),
        }
    }
}

/// HMAC-SHA256: the PRF of DTLS 1.2 and the HKDF of DTLS 1.3 for the
/// SHA-256 suites, the only ones offered.
#[derive(Debug)]
struct HmacSha256;

impl HmacProvider for HmacSha256 {
    fn hmac(
        &self,
        hash: HashAlgorithm,
        key: &[u8],
        data: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        if hash != HashAlgorithm::SHA256 {
            return Err(CryptoError::UnsupportedHmacHash(hash));
        }
        let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key)
            .map_err(|_| CryptoError::OperationFailed(CryptoOperation::ComputeHmac))?;
        mac.update(data);
        let digest = mac.finalize().into_bytes();
        let out = out
            .get_mut(..digest.len())
            .ok_or(CryptoError::OperationFailed(CryptoOperation::ComputeHmac))?;
        out.copy_from_slice(&digest);
        Ok(digest.len())
    }
}

#[derive(Debug)]
struct OsRandom;

impl SecureRandom for OsRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), CryptoError> {
        getrandom::fill(buf).map_err(|_| CryptoError::OperationFailed(CryptoOperation::FillRandom))
    }
}

// ------------------------------------------------------ record cipher

/// AES-128-GCM over DTLS records: the tag follows the ciphertext.
struct RecordGcm(Box<Aes128Gcm>);

impl std::fmt::Debug for RecordGcm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecordGcm")
    }
}

impl RecordGcm {
    fn boxed(key: &[u8]) -> Result<Box<dyn Cipher>, CryptoError> {
        let aead = Aes128Gcm::new_from_slice(key)
            .map_err(|_| CryptoError::OperationFailed(CryptoOperation::CreateCipher))?;
        Ok(Box::new(RecordGcm(Box::new(aead))))
    }
}

impl Cipher for RecordGcm {
    fn encrypt(&mut self, data: &mut Buf, aad: Aad, nonce: Nonce) -> Result<(), CryptoError> {
        let tag = self
            .0
            .encrypt_inout_detached(&nonce.0.into(), &aad, InOutBuf::from(&mut data[..]))
            .map_err(|_| CryptoError::OperationFailed(CryptoOperation::Encrypt))?;
        data.extend_from_slice(&tag);
        Ok(())
    }

    fn decrypt(
        &mut self,
        ciphertext: &mut TmpBuf,
        aad: Aad,
        nonce: Nonce,
    ) -> Result<(), CryptoError> {
        let len = ciphertext.len();
        let Some(text_len) = len.checked_sub(GCM_TAG) else {
            return Err(CryptoError::CiphertextTooShort {
                minimum: GCM_TAG as u8,
                actual: len as u8,
            });
        };
        let (text, tag) = ciphertext.as_mut().split_at_mut(text_len);
        let tag = <&Tag<Aes128Gcm>>::try_from(&*tag)
            .map_err(|_| CryptoError::OperationFailed(CryptoOperation::Decrypt))?;
        self.0
            .decrypt_inout_detached(&nonce.0.into(), &aad, InOutBuf::from(text), tag)
            .map_err(|_| CryptoError::OperationFailed(CryptoOperation::Decrypt))?;
        ciphertext.truncate(text_len);
        Ok(())
    }
}

/// DTLS 1.2 `TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256` (RFC 5289).
#[derive(Debug)]
struct Aes128GcmSha256;

impl SupportedDtls12CipherSuite for Aes128GcmSha256 {
    fn suite(&self) -> Dtls12CipherSuite {
        Dtls12CipherSuite::ECDHE_ECDSA_AES128_GCM_SHA256
    }

    fn hash_algorithm(&self) -> HashAlgorithm {
        HashAlgorithm::SHA256
    }

    fn key_lengths(&self) -> (usize, usize, usize) {
        // No MAC key, a 16-byte AES key, a 4-byte implicit nonce part.
        (0, 16, 4)
    }

    fn explicit_nonce_len(&self) -> usize {
        8
    }

    fn tag_len(&self) -> usize {
        GCM_TAG
    }

    fn create_cipher(&self, key: &[u8]) -> Result<Box<dyn Cipher>, CryptoError> {
        RecordGcm::boxed(key)
    }
}

/// DTLS 1.3 `TLS_AES_128_GCM_SHA256` (RFC 8446, RFC 9147).
#[derive(Debug)]
struct Tls13Aes128GcmSha256;

impl SupportedDtls13CipherSuite for Tls13Aes128GcmSha256 {
    fn suite(&self) -> Dtls13CipherSuite {
        Dtls13CipherSuite::AES_128_GCM_SHA256
    }

    fn hash_algorithm(&self) -> HashAlgorithm {
        HashAlgorithm::SHA256
    }

    fn key_len(&self) -> usize {
        16
    }

    fn iv_len(&self) -> usize {
        12
    }

    fn tag_len(&self) -> usize {
        GCM_TAG
    }

    fn create_cipher(&self, key: &[u8]) -> Result<Box<dyn Cipher>, CryptoError> {
        RecordGcm::boxed(key)
    }

    /// The record number mask (RFC 9147 4.2.3): AES-128 of the sample.
    fn encrypt_sn(&self, sn_key: &[u8], sample: &[u8; 16]) -> [u8; 16] {
        // dimpl derives the key at `key_len`; a key of another length
        // would be its bug, and an all-zero mask only garbles the record
        // number (the record is then dropped), so no panic here.
        let Ok(cipher) = Aes128::new_from_slice(sn_key) else {
            return [0; 16];
        };
        let mut block = aes::Block::from(*sample);
        cipher.encrypt_block(&mut block);
        block.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimpl_accepts_the_provider() {
        // Building a configuration runs dimpl's own checks of every part
        // (hash and PRF vectors, a key exchange, a signature, AEAD).
        dimpl::Config::builder()
            .with_crypto_provider(provider())
            .build()
            .expect("dimpl validates the provider");
    }

    #[test]
    fn p256_exchange_agrees_and_rejects_bad_points() {
        let a = P256Exchange.start_exchange(Buf::new()).expect("a");
        let b = P256Exchange.start_exchange(Buf::new()).expect("b");
        assert_eq!(a.pub_key().len(), 65, "uncompressed SEC1 point");
        let (a_pub, b_pub) = (a.pub_key().to_vec(), b.pub_key().to_vec());
        let (mut sa, mut sb) = (Buf::new(), Buf::new());
        a.complete(&b_pub, &mut sa).expect("a completes");
        b.complete(&a_pub, &mut sb).expect("b completes");
        assert_eq!(&sa[..], &sb[..]);
        assert_eq!(sa.len(), 32);
        let c = P256Exchange.start_exchange(Buf::new()).expect("c");
        let mut garbage = b_pub.clone();
        garbage[40] ^= 0x55; // no longer on the curve
        assert_eq!(
            c.complete(&garbage, &mut Buf::new()),
            Err(CryptoError::InvalidPublicKey(NamedGroup::Secp256r1))
        );
    }

    #[test]
    fn signatures_verify_against_the_certificate_and_forgeries_fail() {
        let cert = super::super::crypto::self_signed_certificate().expect("a certificate");
        let mut signer = P256Keys
            .load_private_key(&cert.private_key)
            .expect("our PKCS#8 key loads");
        let data = b"client random, server random, params";
        for hash in [HashAlgorithm::SHA256, HashAlgorithm::SHA384] {
            let mut sig = Buf::new();
            signer.sign(data, hash, &mut sig).expect("signs");
            let verify = |data: &[u8], sig: &[u8]| {
                P256Verifier.verify_signature(
                    &cert.certificate,
                    data,
                    sig,
                    hash,
                    SignatureAlgorithm::ECDSA,
                )
            };
            assert_eq!(verify(data, &sig), Ok(()), "{hash:?}");
            assert!(verify(b"other data", &sig).is_err());
            let mut forged = sig.to_vec();
            let last = forged.len() - 1;
            forged[last] ^= 1;
            assert!(verify(data, &forged).is_err());
            assert_eq!(
                verify(data, b"not DER"),
                Err(CryptoError::InvalidSignatureFormat)
            );
        }
        let mut sig = Buf::new();
        signer
            .sign(data, HashAlgorithm::SHA256, &mut sig)
            .expect("signs");
        assert_eq!(
            P256Verifier.verify_signature(
                b"not a certificate",
                data,
                &sig,
                HashAlgorithm::SHA256,
                SignatureAlgorithm::ECDSA
            ),
            Err(CryptoError::CertificateParseFailed)
        );
        assert!(P256Keys.load_private_key(b"not a key").is_err());
    }

    #[test]
    fn hmac_sha256_matches_rfc4231() {
        // RFC 4231 test case 2.
        let mut out = [0u8; 32];
        let n = HmacSha256
            .hmac(
                HashAlgorithm::SHA256,
                b"Jefe",
                b"what do ya want for nothing?",
                &mut out,
            )
            .expect("hmac");
        assert_eq!(n, 32);
        assert_eq!(
            out,
            [
                0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95,
                0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9,
                0x64, 0xec, 0x38, 0x43
            ]
        );
        assert_eq!(
            HmacSha256.hmac(HashAlgorithm::SHA384, b"k", b"d", &mut [0u8; 48]),
            Err(CryptoError::UnsupportedHmacHash(HashAlgorithm::SHA384))
        );
        assert!(HmacSha256
            .hmac(HashAlgorithm::SHA256, b"k", b"d", &mut [0u8; 8])
            .is_err());
    }

    #[test]
    fn records_seal_open_and_reject_tampering() {
        let key = [7u8; 16];
        let nonce = || Nonce([9u8; 12]);
        let aad = || {
            let mut aad = Aad(Default::default());
            aad.0.extend([1u8, 2, 3]);
            aad
        };
        let mut sealer = Aes128GcmSha256.create_cipher(&key).expect("cipher");
        let mut opener = Tls13Aes128GcmSha256.create_cipher(&key).expect("cipher");
        let mut record = Buf::new();
        record.extend_from_slice(b"application data");
        sealer.encrypt(&mut record, aad(), nonce()).expect("seals");
        assert_eq!(record.len(), 16 + GCM_TAG);

        let mut copy = record.to_vec();
        let mut tmp = TmpBuf::new(&mut copy);
        opener.decrypt(&mut tmp, aad(), nonce()).expect("opens");
        assert_eq!(tmp.as_ref(), b"application data");

        let mut tampered = record.to_vec();
        tampered[3] ^= 1;
        assert_eq!(
            opener.decrypt(&mut TmpBuf::new(&mut tampered), aad(), nonce()),
            Err(CryptoError::OperationFailed(CryptoOperation::Decrypt))
        );
        // A forged tag, and an empty record (the tag alone) both ways.
        let mut forged_tag = record.to_vec();
        let last = forged_tag.len() - 1;
        forged_tag[last] ^= 0x80;
        assert!(opener
            .decrypt(&mut TmpBuf::new(&mut forged_tag), aad(), nonce())
            .is_err());
        let mut empty = Buf::new();
        sealer.encrypt(&mut empty, aad(), nonce()).expect("seals");
        assert_eq!(empty.len(), GCM_TAG);
        let mut empty = empty.to_vec();
        let mut tmp = TmpBuf::new(&mut empty);
        opener.decrypt(&mut tmp, aad(), nonce()).expect("opens");
        assert_eq!(tmp.len(), 0);
        let mut short = [0u8; 5];
        assert!(matches!(
            opener.decrypt(&mut TmpBuf::new(&mut short), aad(), nonce()),
            Err(CryptoError::CiphertextTooShort { .. })
        ));
        assert!(Aes128GcmSha256.create_cipher(&[0u8; 5]).is_err());
    }

    #[test]
    fn record_number_mask_is_aes_of_the_sample() {
        // FIPS-197 C.1: AES-128 of 00112233..ff under 000102..0f.
        let key: Vec<u8> = (0u8..16).collect();
        let sample: [u8; 16] = std::array::from_fn(|i| (i as u8) * 0x11);
        let mask = Tls13Aes128GcmSha256.encrypt_sn(&key, &sample);
        assert_eq!(mask[..4], [0x69, 0xc4, 0xe0, 0xd8]);
        assert_eq!(
            Tls13Aes128GcmSha256.encrypt_sn(&[1, 2, 3], &sample),
            [0; 16]
        );
    }

    #[test]
    fn garbage_from_the_peer_is_an_error_never_a_panic() {
        // Random bytes and mutations of valid input at every place a peer's
        // bytes reach this provider.
        let mut rng = fastrand::Rng::with_seed(11);
        let cert = super::super::crypto::self_signed_certificate().expect("a certificate");
        let mut signer = P256Keys.load_private_key(&cert.private_key).expect("key");
        let mut sig = Buf::new();
        signer
            .sign(b"data", HashAlgorithm::SHA256, &mut sig)
            .expect("signs");
        let peer = P256Exchange.start_exchange(Buf::new()).expect("peer");
        let mut opener = Aes128GcmSha256.create_cipher(&[3u8; 16]).expect("cipher");
        for round in 0..300 {
            let len = rng.usize(0..200);
            let mut junk: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
            let mutate = |valid: &[u8], rng: &mut fastrand::Rng| {
                let mut v = valid.to_vec();
                if !v.is_empty() {
                    let at = rng.usize(..v.len());
                    v[at] ^= rng.u8(1..);
                    v.truncate(rng.usize(at..=v.len()));
                }
                v
            };
            let exchange = P256Exchange.start_exchange(Buf::new()).expect("exchange");
            let point = if round % 2 == 0 {
                junk.clone()
            } else {
                mutate(peer.pub_key(), &mut rng)
            };
            // A mutated point can still be on the curve; only no panic counts.
            let _ = exchange.complete(&point, &mut Buf::new());
            let cert_der = if round % 2 == 0 {
                junk.clone()
            } else {
                mutate(&cert.certificate, &mut rng)
            };
            let verified = P256Verifier.verify_signature(
                &cert_der,
                b"data",
                &mutate(&sig, &mut rng),
                HashAlgorithm::SHA256,
                SignatureAlgorithm::ECDSA,
            );
            assert!(verified.is_err(), "round {round}: a mutated input verified");
            assert!(P256Keys.load_private_key(&junk).is_err());
            let nonce = Nonce([rng.u8(..); 12]);
            let aad = Aad(Default::default());
            assert!(opener
                .decrypt(&mut TmpBuf::new(&mut junk), aad, nonce)
                .is_err());
        }
    }
}
