//! Any bytes as a received VRRP packet, over IPv4 and IPv6, both v3 checksum variants: the
//! decoder returns an advert or a drop reason, never panics; an accepted advert encodes back to
//! a packet that decodes to the same advert.
#![no_main]

use std::net::IpAddr;

use haldir::vrrp::packet::{Advert, V3Checksum};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let pairs: [(IpAddr, IpAddr); 2] = [
        ("10.0.0.1".parse().unwrap(), "224.0.0.18".parse().unwrap()),
        ("fe80::1".parse().unwrap(), "ff02::12".parse().unwrap()),
    ];
    for (src, dst) in pairs {
        for sum in [V3Checksum::PseudoHeader, V3Checksum::MessageOnly] {
            if let Ok(adv) = Advert::decode(data, src, dst, sum) {
                let again = Advert::decode(&adv.encode(src, dst, sum), src, dst, sum)
                    .expect("an encoded advert decodes");
                assert_eq!(adv, again);
            }
        }
    }
});
