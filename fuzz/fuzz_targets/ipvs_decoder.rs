//! Any bytes as what the kernel sent on the IPVS generic-netlink socket: the decoder returns
//! replies or an error, never panics, for both address families.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for family in [2u16, 10] {
        let _ = haldir::ipvs::codec::decode(data, family);
    }
});
