/// Why bytes could not be read as (or written to) a packet. Each variant is one
/// receive-discard reason; the engine maps it to an RFC 6527 counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Shorter than the fixed header, or than the header plus the addresses and
    /// trailer the header announces (RX-04).
    #[error("packet too short: {have} octets, {need} needed")]
    Truncated { have: usize, need: usize },
    /// Version nibble is neither 2 nor 3 (RX-02).
    #[error("unknown VRRP version {0}")]
    Version(u8),
    /// Type nibble is not 1, ADVERTISEMENT (RX-03).
    #[error("unknown VRRP type {0}")]
    Type(u8),
    /// VRID 0 is never valid (PKT-01).
    #[error("VRID 0 is not valid")]
    VridZero,
    /// The checksum does not verify in any accepted form (RX-05).
    #[error("bad checksum")]
    Checksum,
    /// VRRPv3 with an address count of 0 (RX-08).
    #[error("VRRPv3 advert with no address")]
    NoAddress,
    /// VRRPv3 with Max Adver Int 0 (RX-09).
    #[error("VRRPv3 advert with interval 0")]
    IntervalZero,
    /// An IP header that is not IPv4, too short, or whose lengths disagree.
    #[error("malformed IP header")]
    IpHeader,
    /// The IP protocol is neither VRRP (112) nor AH (51), or AH does not carry VRRP.
    #[error("IP protocol {0} is not VRRP")]
    Protocol(u8),
    /// AH header malformed (length field, next header).
    #[error("malformed AH header")]
    AhHeader,
    /// AH ICV does not verify.
    #[error("AH authentication failed")]
    AhAuth,
    /// An `auth_hmac` trailer (keepalived 2.4.2+) whose extension type is not
    /// HMAC-SHA256-128 (1) or whose reserved field is not zero. keepalived counts it
    /// as `auth_ext_malformed`.
    #[error("malformed auth_hmac trailer: {0}")]
    HmacMalformed(&'static str),
    /// An `auth_hmac` trailer naming a key id that is not configured
    /// (keepalived: `auth_ext_unknown_key`).
    #[error("auth_hmac key id {0} is not configured")]
    HmacUnknownKey(u8),
    /// The `auth_hmac` HMAC does not verify (keepalived: `auth_ext_invalid_hmac`).
    #[error("auth_hmac HMAC does not verify")]
    HmacAuth,
    /// `anti_replay time`: the trailer's seconds are more than `time_window` away from
    /// the receiver's clock. `skew` = receiver's seconds − trailer's seconds
    /// (keepalived: `auth_ext_stale`).
    #[error("stale auth_hmac trailer: clock skew {skew} s is outside the window")]
    HmacStale { skew: i32 },
    /// The trailer's sequence does not grow past the last one accepted from the
    /// same sender (keepalived: `auth_ext_replay`).
    #[error("replayed auth_hmac trailer")]
    HmacReplay,
    /// `mode enforce` and the advert carries no trailer (keepalived:
    /// `auth_ext_missing`).
    #[error("missing auth_hmac trailer")]
    HmacMissing,
    /// An ARP or neighbour-advertisement frame that is not the kind this crate reads
    /// (wrong EtherType, hardware or protocol type, ICMPv6 type, option layout), or
    /// whose ICMPv6 checksum does not verify.
    #[error("malformed frame: {0}")]
    Frame(&'static str),
    /// A `Repr` that cannot be emitted (e.g. v3 with no address, mixed families,
    /// more than 255 addresses, interval out of range, buffer too small).
    #[error("cannot emit: {0}")]
    Emit(&'static str),
}
