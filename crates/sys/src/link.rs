//! Virtual links an instance runs on: the VMAC macvlan of `use_vmac` and the ipvlan
//! of `use_ipvlan`, created on the instance's interface, found again after a restart,
//! brought up and removed.
//!
//! keepalived creates the macvlan in private mode (two macvlans of one parent do not
//! talk to each other) with the virtual router MAC, 00:00:5e:00:01:VRID for IPv4 and
//! 00:00:5e:00:02:VRID for IPv6 (RFC 5798 §7.3); the ipvlan in L2 mode, sharing the
//! parent's MAC.

use netlink_packet_core::{NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST};
use netlink_packet_route::link::{
    InfoData, InfoIpVlan, InfoKind, InfoMacVlan, IpVlanFlags, IpVlanMode, LinkAttribute, LinkFlags,
    LinkInfo, LinkMessage, MacVlanMode,
};
use netlink_packet_route::RouteNetlinkMessage;

use crate::netlink::Netlink;
use crate::{Error, Result};

/// The virtual router MAC of `vrid` (RFC 5798 §7.3): 00:00:5e:00:01:VRID for IPv4,
/// 00:00:5e:00:02:VRID for IPv6.
pub fn vrrp_mac(vrid: u8, v6: bool) -> [u8; 6] {
    [0x00, 0x00, 0x5e, 0x00, if v6 { 0x02 } else { 0x01 }, vrid]
}

/// `use_ipvlan`'s mode word: how the ipvlan talks to its siblings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IpvlanFlag {
    #[default]
    Bridge,
    Private,
    Vepa,
}

/// What kind of virtual link, with what it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VirtualKind {
    /// A macvlan, mode private, with this MAC.
    Macvlan { mac: [u8; 6] },
    /// An ipvlan, mode L2, with these flags (it has the parent's MAC).
    Ipvlan { flag: IpvlanFlag },
}

/// A virtual link to create: its name, its parent (by index) and its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualLink {
    pub name: String,
    pub parent: u32,
    pub kind: VirtualKind,
}

/// What the kernel says about a link found by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkState {
    pub ifindex: u32,
    /// IFLA_INFO_KIND: "macvlan", "ipvlan", "veth"...; `None` for a physical one.
    pub kind: Option<String>,
    /// IFLA_LINK: the parent of a macvlan or ipvlan.
    pub parent: Option<u32>,
    pub mac: Option<[u8; 6]>,
    /// IFF_UP.
    pub admin_up: bool,
}

impl LinkState {
    /// Is this link what `want` describes (kind, parent and, for a macvlan, MAC)?
    /// The mode is not compared: keepup creates it and nobody changes it.
    pub fn matches(&self, want: &VirtualLink) -> bool {
        self.parent == Some(want.parent)
            && match &want.kind {
                VirtualKind::Macvlan { mac } => {
                    self.kind.as_deref() == Some("macvlan") && self.mac == Some(*mac)
                }
                VirtualKind::Ipvlan { .. } => self.kind.as_deref() == Some("ipvlan"),
            }
    }

    /// A macvlan or ipvlan, which keepup may remove; never a physical interface.
    pub fn is_virtual_lan(&self) -> bool {
        matches!(self.kind.as_deref(), Some("macvlan" | "ipvlan"))
    }
}

/// RTM_NEWLINK creating `v` (down; brought up once its sysctls are set).
pub(crate) fn add_msg(v: &VirtualLink) -> LinkMessage {
    let mut m = LinkMessage::default();
    let (kind, data) = match &v.kind {
        VirtualKind::Macvlan { mac } => {
            m.attributes.push(LinkAttribute::Address(mac.to_vec()));
            (
                InfoKind::MacVlan,
                InfoData::MacVlan(vec![InfoMacVlan::Mode(MacVlanMode::Private)]),
            )
        }
        VirtualKind::Ipvlan { flag } => {
            let flags = match flag {
                IpvlanFlag::Bridge => IpVlanFlags::empty(),
                IpvlanFlag::Private => IpVlanFlags::Private,
                IpvlanFlag::Vepa => IpVlanFlags::Vepa,
            };
            (
                InfoKind::IpVlan,
                InfoData::IpVlan(vec![
                    InfoIpVlan::Mode(IpVlanMode::L2),
                    InfoIpVlan::Flags(flags),
                ]),
            )
        }
    };
    m.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(kind),
        LinkInfo::Data(data),
    ]));
    m.attributes.push(LinkAttribute::Link(v.parent));
    m.attributes.push(LinkAttribute::IfName(v.name.clone()));
    m
}

/// RTM_NEWLINK setting IFF_UP on or off.
pub(crate) fn up_msg(ifindex: u32, up: bool) -> LinkMessage {
    let mut m = LinkMessage::default();
    m.header.index = ifindex;
    m.header.change_mask = LinkFlags::Up;
    if up {
        m.header.flags = LinkFlags::Up;
    }
    m
}

/// What a link message says (see [`LinkState`]).
pub(crate) fn state_of(l: &LinkMessage) -> LinkState {
    let mut s = LinkState {
        ifindex: l.header.index,
        kind: None,
        parent: None,
        mac: None,
        admin_up: l.header.flags.contains(LinkFlags::Up),
    };
    for a in &l.attributes {
        match a {
            LinkAttribute::Link(p) => s.parent = Some(*p),
            LinkAttribute::Address(b) => s.mac = <[u8; 6]>::try_from(b.as_slice()).ok(),
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    if let LinkInfo::Kind(k) = i {
                        s.kind = Some(k.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    s
}

impl Netlink {
    /// The link named `name`, if there is one.
    pub async fn link_state(&self, name: &str) -> Result<Option<LinkState>> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self
            .request(RouteNetlinkMessage::GetLink(m), NLM_F_REQUEST | NLM_F_ACK)
            .await
        {
            Err(e) if e.errno() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e.into_error(format!("look up interface {name}"))),
            Ok(replies) => Ok(replies.iter().find_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) => Some(state_of(l)),
                _ => None,
            })),
        }
    }

    /// Create `v`. A kernel without the kind says so in the error ("Unknown device
    /// type", EOPNOTSUPP).
    pub async fn add_virtual_link(&self, v: &VirtualLink) -> Result<()> {
        self.change(
            RouteNetlinkMessage::NewLink(add_msg(v)),
            NLM_F_CREATE | NLM_F_EXCL,
        )
        .await
        .map_err(|e| e.into_error(format!("create {:?} link {}", v.kind, v.name)))
    }

    /// Remove a link; one already gone is not an error.
    pub async fn del_link(&self, ifindex: u32) -> Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = ifindex;
        match self.change(RouteNetlinkMessage::DelLink(m), 0).await {
            Err(e) if e.errno() == Some(libc::ENODEV) => Ok(()),
            r => r.map_err(|e| e.into_error(format!("delete link ifindex {ifindex}"))),
        }
    }

    /// Set a link administratively up or down.
    pub async fn set_link_up(&self, ifindex: u32, up: bool) -> Result<()> {
        self.change(RouteNetlinkMessage::SetLink(up_msg(ifindex, up)), 0)
            .await
            .map_err(|e| {
                e.into_error(format!(
                    "set link ifindex {ifindex} {}",
                    if up { "up" } else { "down" }
                ))
            })
    }
}

/// Read /proc/sys/`path` (trimmed), with [`crate::sysctl_set`]'s path rules.
pub fn sysctl_get(path: &str) -> Result<String> {
    let rel = std::path::Path::new(path);
    if path.is_empty()
        || rel
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(Error::Io {
            what: format!("sysctl {path}"),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a path under /proc/sys",
            ),
        });
    }
    std::fs::read_to_string(std::path::Path::new("/proc/sys").join(rel))
        .map(|s| s.trim().to_string())
        .map_err(|source| Error::Io {
            what: format!("sysctl {path}"),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{Emitable, Parseable};

    /// Ledger: MAC-01, MAC-02
    #[test]
    fn vrrp_mac_per_family() {
        assert_eq!(vrrp_mac(1, false), [0, 0, 0x5e, 0, 1, 1]);
        assert_eq!(vrrp_mac(255, false), [0, 0, 0x5e, 0, 1, 0xff]);
        assert_eq!(vrrp_mac(10, true), [0, 0, 0x5e, 0, 2, 10]);
    }

    fn bytes(m: &LinkMessage) -> Vec<u8> {
        let mut b = vec![0; m.buffer_len()];
        m.emit(&mut b);
        b
    }

    /// Find attribute `kind` in a run of netlink attributes; its value.
    fn attr(mut b: &[u8], kind: u16) -> Option<&[u8]> {
        while b.len() >= 4 {
            let len = usize::from(u16::from_ne_bytes([b[0], b[1]]));
            let k = u16::from_ne_bytes([b[2], b[3]]) & 0x3fff;
            if len < 4 || len > b.len() {
                return None;
            }
            if k == kind {
                return Some(&b[4..len]);
            }
            b = b.get((len + 3) & !3..)?;
        }
        None
    }

    const IFLA_ADDRESS: u16 = 1;
    const IFLA_IFNAME: u16 = 3;
    const IFLA_LINK: u16 = 5;
    const IFLA_LINKINFO: u16 = 18;
    const IFLA_INFO_KIND: u16 = 1;
    const IFLA_INFO_DATA: u16 = 2;
    const IFLA_MACVLAN_MODE: u16 = 1;
    const IFLA_IPVLAN_MODE: u16 = 1;
    const IFLA_IPVLAN_FLAGS: u16 = 2;
    const MACVLAN_MODE_PRIVATE: u32 = 1;

    /// The bytes iproute2 sends for `ip link add link <parent> name vrrp.51 address
    /// 00:00:5e:00:01:33 type macvlan mode private`, attribute by attribute.
    #[test]
    fn macvlan_add_encodes_kind_mode_parent_name_and_mac() {
        let v = VirtualLink {
            name: "vrrp.51".into(),
            parent: 7,
            kind: VirtualKind::Macvlan {
                mac: vrrp_mac(51, false),
            },
        };
        let b = bytes(&add_msg(&v));
        let attrs = &b[16..]; // after struct ifinfomsg
        assert_eq!(attr(attrs, IFLA_IFNAME), Some(&b"vrrp.51\0"[..]));
        assert_eq!(attr(attrs, IFLA_LINK), Some(&7u32.to_ne_bytes()[..]));
        assert_eq!(
            attr(attrs, IFLA_ADDRESS),
            Some(&[0u8, 0, 0x5e, 0, 1, 51][..])
        );
        let info = attr(attrs, IFLA_LINKINFO).expect("IFLA_LINKINFO");
        assert_eq!(attr(info, IFLA_INFO_KIND), Some(&b"macvlan\0"[..]));
        let data = attr(info, IFLA_INFO_DATA).expect("IFLA_INFO_DATA");
        assert_eq!(
            attr(data, IFLA_MACVLAN_MODE),
            Some(&MACVLAN_MODE_PRIVATE.to_ne_bytes()[..])
        );
        // And it reads back as what it describes.
        let parsed = LinkMessage::parse(b.as_slice()).expect("parses");
        let s = state_of(&parsed);
        assert_eq!(s.kind.as_deref(), Some("macvlan"));
        assert!(s.matches(&v));
        assert!(!s.admin_up);
    }

    #[test]
    fn ipvlan_add_encodes_l2_and_flags_without_a_mac() {
        let v = VirtualLink {
            name: "ipv.1".into(),
            parent: 3,
            kind: VirtualKind::Ipvlan {
                flag: IpvlanFlag::Private,
            },
        };
        let b = bytes(&add_msg(&v));
        let attrs = &b[16..];
        assert_eq!(attr(attrs, IFLA_ADDRESS), None);
        let info = attr(attrs, IFLA_LINKINFO).expect("IFLA_LINKINFO");
        assert_eq!(attr(info, IFLA_INFO_KIND), Some(&b"ipvlan\0"[..]));
        let data = attr(info, IFLA_INFO_DATA).expect("IFLA_INFO_DATA");
        assert_eq!(attr(data, IFLA_IPVLAN_MODE), Some(&0u16.to_ne_bytes()[..]));
        assert_eq!(attr(data, IFLA_IPVLAN_FLAGS), Some(&1u16.to_ne_bytes()[..]));
    }

    #[test]
    fn a_link_with_another_mac_or_parent_does_not_match() {
        let v = VirtualLink {
            name: "vrrp.51".into(),
            parent: 7,
            kind: VirtualKind::Macvlan {
                mac: vrrp_mac(51, false),
            },
        };
        let mut s = state_of(&add_msg(&v));
        assert!(s.matches(&v));
        s.mac = Some(vrrp_mac(52, false));
        assert!(!s.matches(&v));
        s.mac = Some(vrrp_mac(51, false));
        s.parent = Some(8);
        assert!(!s.matches(&v));
        s.kind = None;
        assert!(!s.is_virtual_lan());
    }

    #[test]
    fn up_and_down_touch_only_iff_up() {
        let m = up_msg(4, true);
        assert_eq!(m.header.change_mask, LinkFlags::Up);
        assert_eq!(m.header.flags, LinkFlags::Up);
        assert!(up_msg(4, false).header.flags.is_empty());
    }

    #[test]
    fn sysctl_get_refuses_climbing_paths() {
        assert!(sysctl_get("../etc/passwd").is_err());
        assert!(sysctl_get("/etc/passwd").is_err());
        assert!(sysctl_get("").is_err());
    }
}
