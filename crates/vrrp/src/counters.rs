//! Counters per virtual router and per host, named as RFC 6527 (VRRPv3-MIB) names
//! them; the v2 authentication counters come from RFC 2787 (VRRP-MIB).
use serde::Serialize;

/// `vrrpv3StatisticsEntry` plus RFC 2787's authentication counters and keepup's own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    /// vrrpv3StatisticsMasterTransitions
    pub master_transitions: u64,
    /// keepalived's `release_master`: transitions out of Master (to Backup, Fault or
    /// Stop). RFC 6527 has no row for it; keepalived's stats and JSON files do.
    pub release_master: u64,
    /// vrrpv3StatisticsRcvdAdvertisements (adverts that passed every check)
    pub rcvd_advertisements: u64,
    /// vrrpv3StatisticsAdvIntervalErrors (v2: interval differs, dropped)
    pub adv_interval_errors: u64,
    /// vrrpv3StatisticsIpTtlErrors
    pub ip_ttl_errors: u64,
    /// vrrpv3StatisticsRcvdPriZeroPackets
    pub rcvd_pri_zero_packets: u64,
    /// vrrpv3StatisticsSentPriZeroPackets
    pub sent_pri_zero_packets: u64,
    /// vrrpv3StatisticsRcvdInvalidTypePackets
    pub rcvd_invalid_type_packets: u64,
    /// vrrpv3StatisticsAddressListErrors
    pub address_list_errors: u64,
    /// vrrpv3StatisticsPacketLengthErrors
    pub packet_length_errors: u64,
    /// vrrpStatsAuthFailures (RFC 2787): PASS mismatch or AH ICV failure
    pub auth_failures: u64,
    /// vrrpStatsInvalidAuthType (RFC 2787): an Auth Type not defined
    pub invalid_auth_type: u64,
    /// vrrpStatsAuthTypeMismatch (RFC 2787): a defined Auth Type other than ours
    pub auth_type_mismatch: u64,
    /// keepup: adverts dropped because the advert interval was 0 (v3, RX-09)
    pub interval_zero_errors: u64,
    /// keepup: adverts with octets after the message (KA-11: accepted, counted)
    pub trailing_octets: u64,
    /// keepup: unicast adverts from an address not configured as a peer, or with a
    /// TTL outside the peer's range, or multicast adverts reaching a unicast instance
    /// and the reverse (KA-22)
    pub source_errors: u64,
    /// keepup: our own adverts looped back (MST-12)
    pub own_adverts: u64,
    /// keepup: adverts sent
    pub sent_advertisements: u64,
    /// keepup: times another router kept claiming the VRID while we were Master and
    /// answering it (it does not hear us: split brain)
    pub split_brain: u64,
    /// keepup: adverts that could not be sent (no source address yet, TX-05)
    pub send_skipped: u64,
    /// keepalived `auth_ext_missing`: `auth_hmac mode enforce` and an advert without
    /// a trailer
    pub auth_ext_missing: u64,
    /// keepalived `auth_ext_malformed`: a trailer of another extension type, or with
    /// its reserved field set
    pub auth_ext_malformed: u64,
    /// keepalived `auth_ext_unknown_key`: signed with a key id not configured here
    pub auth_ext_unknown_key: u64,
    /// keepalived `auth_ext_invalid_hmac`: the HMAC does not verify (another key
    /// under the same id, or a forged or altered advert)
    pub auth_ext_invalid_hmac: u64,
    /// keepalived `auth_ext_stale`: `anti_replay time` and the trailer's time is
    /// more than `time_window` away from this router's clock
    pub auth_ext_stale: u64,
    /// keepalived `auth_ext_replay`: the sequence is not after the last one
    /// accepted from that sender (a replayed advert)
    pub auth_ext_replay: u64,
    /// vrrpv3StatisticsNewMasterReason (of the latest time it became Master)
    pub new_master_reason: NewMasterReason,
}

impl Counters {
    /// keepalived's STATS_CLEAR: every count back to zero. The reason of the latest
    /// takeover is a state, not a count, and stays. Readers that keep counters across
    /// reads (Prometheus) see a counter reset, which they are built to handle.
    pub fn clear(&mut self) {
        *self = Counters {
            new_master_reason: self.new_master_reason,
            ..Counters::default()
        };
    }
}

/// vrrpv3StatisticsNewMasterReason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum NewMasterReason {
    #[default]
    NotMaster,
    /// Became Master because it is the owner (priority 255) at startup.
    Priority,
    /// Took over from a lower-priority Master.
    Preempted,
    /// The Master stopped advertising (down timer) or resigned.
    MasterNoResponse,
}

/// `vrrpv3RouterChecksumErrors`, `vrrpv3RouterVersionErrors`,
/// `vrrpv3RouterVrIdErrors`: errors found before an instance is known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GlobalCounters {
    pub checksum_errors: u64,
    pub version_errors: u64,
    pub vr_id_errors: u64,
    /// keepup: too short or malformed before the VRID could be read, or not VRRP
    pub packet_length_errors: u64,
}
