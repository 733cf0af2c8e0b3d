//! The few bytes of STUN (RFC 8489) the engine speaks itself: a Binding
//! request to a STUN server and the XOR-MAPPED-ADDRESS in its answer, which
//! becomes a server-reflexive ICE candidate. (Connectivity checks between
//! peers are str0m's.) The parser takes any bytes from the network and
//! never panics.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

const MAGIC: u32 = 0x2112_A442;
const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;
const XOR_MAPPED_ADDRESS: u16 = 0x0020;
const MAPPED_ADDRESS: u16 = 0x0001;

/// A Binding request with transaction id `tid`.
pub fn binding_request(tid: [u8; 12]) -> [u8; 20] {
    let mut m = [0u8; 20];
    m[0..2].copy_from_slice(&BINDING_REQUEST.to_be_bytes());
    // length 0: no attributes
    m[4..8].copy_from_slice(&MAGIC.to_be_bytes());
    m[8..20].copy_from_slice(&tid);
    m
}

/// Whether `buf` looks like a STUN message for transaction `tid`.
pub fn is_response_to(buf: &[u8], tid: &[u8; 12]) -> bool {
    buf.len() >= 20 && buf[0] & 0xC0 == 0 && buf[4..8] == MAGIC.to_be_bytes() && &buf[8..20] == tid
}

/// The mapped address of a Binding success response for `tid`, if `buf`
/// is one.
pub fn parse_binding_response(buf: &[u8], tid: &[u8; 12]) -> Option<SocketAddr> {
    if !is_response_to(buf, tid) || u16::from_be_bytes([buf[0], buf[1]]) != BINDING_SUCCESS {
        return None;
    }
    let len = u16::from_be_bytes([buf[2], buf[3]]) as usize;
    let body = buf.get(20..20 + len)?;
    let mut i = 0;
    let mut plain = None;
    while i + 4 <= body.len() {
        let kind = u16::from_be_bytes([body[i], body[i + 1]]);
        let alen = u16::from_be_bytes([body[i + 2], body[i + 3]]) as usize;
        let value = body.get(i + 4..i + 4 + alen)?;
        match kind {
            XOR_MAPPED_ADDRESS => return decode_address(value, Some(tid)),
            MAPPED_ADDRESS => plain = decode_address(value, None),
            _ => {}
        }
        i += 4 + alen.div_ceil(4) * 4;
    }
    plain
}

fn decode_address(v: &[u8], xor: Option<&[u8; 12]>) -> Option<SocketAddr> {
    if v.len() < 4 {
        return None;
    }
    let magic = MAGIC.to_be_bytes();
    let mut port = u16::from_be_bytes([v[2], v[3]]);
    if xor.is_some() {
        port ^= (MAGIC >> 16) as u16;
    }
    let ip = match (v[1], xor) {
        (0x01, _) => {
            let mut o: [u8; 4] = v.get(4..8)?.try_into().ok()?;
            if xor.is_some() {
                for (b, m) in o.iter_mut().zip(magic) {
                    *b ^= m;
                }
            }
            IpAddr::V4(Ipv4Addr::from(o))
        }
        (0x02, _) => {
            let mut o: [u8; 16] = v.get(4..20)?.try_into().ok()?;
            if let Some(tid) = xor {
                let key: Vec<u8> = magic.iter().chain(tid.iter()).copied().collect();
                for (b, k) in o.iter_mut().zip(key) {
                    *b ^= k;
                }
            }
            IpAddr::V6(Ipv6Addr::from(o))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// A Binding success response carrying `addr` (used by tests and tools that
/// stand in for a STUN server).
pub fn binding_response(tid: [u8; 12], addr: SocketAddr) -> Vec<u8> {
    let magic = MAGIC.to_be_bytes();
    let mut value = vec![0u8, 0];
    let port = addr.port() ^ (MAGIC >> 16) as u16;
    match addr.ip() {
        IpAddr::V4(ip) => {
            value[1] = 0x01;
            value.extend_from_slice(&port.to_be_bytes());
            value.extend(ip.octets().iter().zip(magic).map(|(b, m)| b ^ m));
        }
        IpAddr::V6(ip) => {
            value[1] = 0x02;
            value.extend_from_slice(&port.to_be_bytes());
            let key: Vec<u8> = magic.iter().chain(tid.iter()).copied().collect();
            value.extend(ip.octets().iter().zip(key).map(|(b, k)| b ^ k));
        }
    }
    let mut m = Vec::with_capacity(24 + value.len());
    m.extend_from_slice(&BINDING_SUCCESS.to_be_bytes());
    m.extend_from_slice(&((4 + value.len()) as u16).to_be_bytes());
    m.extend_from_slice(&magic);
    m.extend_from_slice(&tid);
    m.extend_from_slice(&XOR_MAPPED_ADDRESS.to_be_bytes());
    m.extend_from_slice(&(value.len() as u16).to_be_bytes());
    m.extend_from_slice(&value);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_v4_and_v6() {
        let tid = [7u8; 12];
        for addr in ["203.0.113.5:40000", "[2001:db8::1]:3478"] {
            let addr: SocketAddr = addr.parse().unwrap();
            assert_eq!(
                parse_binding_response(&binding_response(tid, addr), &tid),
                Some(addr)
            );
        }
        let req = binding_request(tid);
        assert!(is_response_to(&req, &tid));
        assert_eq!(
            parse_binding_response(&req, &tid),
            None,
            "a request is not a response"
        );
    }

    #[test]
    fn rejects_other_transactions_and_never_panics_on_garbage() {
        let tid = [1u8; 12];
        let resp = binding_response(tid, "198.51.100.1:1".parse().unwrap());
        assert_eq!(parse_binding_response(&resp, &[2u8; 12]), None);
        let mut rng = fastrand::Rng::with_seed(11);
        for len in 0..200 {
            for _ in 0..50 {
                let mut junk: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
                if len >= 20 && rng.bool() {
                    junk[..20].copy_from_slice(&resp[..20]); // valid header, random body
                }
                let _ = parse_binding_response(&junk, &tid);
            }
        }
        // Truncations of a valid response.
        for cut in 0..resp.len() {
            let _ = parse_binding_response(&resp[..cut], &tid);
        }
    }
}
