//! Fuzzes the DNS_CHECK answer judge over arbitrary bytes: it must never panic, and
//! a pass must mean what keepalived requires (a whole header, our ID, QR set,
//! RCODE 0).
//!
//! Run: cargo fuzz run check_dns --sanitizer none -- -max_total_time=300
#![no_main]

use keepup_check::proto::dns::{judge, DnsQuery, QueryType, HEADER_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first two octets pick the query ID; the rest is the reply. Half the time
    // the reply is given that ID so the fuzzer gets past the ID check.
    let (id, body) = match data {
        [a, b, rest @ ..] => (u16::from_be_bytes([*a, *b]), rest),
        _ => (0, data),
    };
    let Ok(query) = DnsQuery::new(QueryType::A, "example.com") else {
        return;
    };
    let mut reply = body.to_vec();
    if id & 1 == 0 && reply.len() >= 2 {
        reply[..2].copy_from_slice(&id.to_be_bytes());
    }
    match judge(&query, id, &reply) {
        Ok(()) => {
            assert!(reply.len() >= HEADER_LEN);
            assert_eq!(u16::from_be_bytes([reply[0], reply[1]]), id);
            assert!(reply[2] & 0x80 != 0 && reply[3] & 0x0f == 0);
        }
        Err(e) => {
            let _ = (e.to_string(), e.keeps_waiting());
        }
    }
    let _ = query.encode(id);
});
