//! Print one advert built by keepup-wire as hex, for the keepalived interop check in
//! `tests/fixtures/interop.sh` (which sends it from a raw socket in a namespace).
//!
//! cargo run -p keepup-wire --example advert -- version=2 auth=ah key=secret \
//!     src=10.1.0.2 dst=224.0.0.18 vrid=51 prio=200 int=1 vip=10.1.0.100 seq=1 ident=1
//!
//! IPv4: the whole IP packet (header, AH if any, VRRP). IPv6: the VRRP message only
//! (the kernel writes the IPv6 header). `form=message` picks the RFC 9568 v3/IPv4
//! checksum; `corrupt=1` flips a checksum bit (a negative control).
use keepup_wire::vrrp::{self, AuthType, ChecksumForm, IpPair, Repr, Version};
use keepup_wire::{ah, ipv4};
use std::collections::HashMap;
use std::net::IpAddr;

fn main() {
    let args: HashMap<String, String> = std::env::args()
        .skip(1)
        .filter_map(|a| a.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect();
    let get = |k: &str, d: &str| args.get(k).cloned().unwrap_or_else(|| d.to_owned());
    let num = |k: &str, d: &str| -> u32 { get(k, d).parse().expect(k) };
    let version = if num("version", "2") == 3 {
        Version::V3
    } else {
        Version::V2
    };
    let src: IpAddr = get("src", "10.1.0.2").parse().expect("src");
    let dst: IpAddr = get("dst", "224.0.0.18").parse().expect("dst");
    let vips: Vec<IpAddr> = get("vip", "10.1.0.100")
        .split(',')
        .map(|v| v.parse().expect("vip"))
        .collect();
    let key = get("key", "");
    let auth = get("auth", "none");
    let (auth_type, auth_data) = match (version, auth.as_str()) {
        (Version::V2, "pass") => (AuthType::Pass, vrrp::password_trailer(key.as_bytes())),
        (Version::V2, "ah") => (AuthType::Ah, [0; 8]),
        _ => (AuthType::None, [0; 8]),
    };
    let repr = Repr {
        version,
        vrid: num("vrid", "51") as u8,
        priority: num("prio", "200") as u8,
        interval: num("int", "1") as u16,
        auth_type,
        auth_data,
        addresses: vips,
    };
    let form = if get("form", "pseudo") == "message" {
        ChecksumForm::MessageOnly
    } else {
        ChecksumForm::PseudoHeader
    };
    let mut msg = repr.to_bytes(IpPair { src, dst }, form).expect("emit");
    if num("corrupt", "0") == 1 {
        msg[7] ^= 1;
    }
    let out = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let header = ipv4::Repr {
                src: s,
                dst: d,
                protocol: 0,
                ttl: num("ttl", "255") as u8,
                ident: num("ident", "1") as u16,
                tos: 0xc0,
                payload_len: 0,
            };
            let ah = (auth == "ah").then(|| {
                (
                    ah::Repr {
                        spi: ah::Repr::spi_for(s),
                        seq: num("seq", "1"),
                    },
                    key.as_bytes(),
                )
            });
            ipv4::emit_advert(header, ah, &msg)
        }
        _ => msg,
    };
    let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
    println!("{hex}");
}
