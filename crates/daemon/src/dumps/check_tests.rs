//! keepalived_check.data against keepalived 2.2.7's own file, and its small rules.
use super::*;

/// Part of a configuration keepalived 2.2.7 ran in the test VM (no server
/// answering yet); the expected text is what it wrote to keepalived_check.data
/// before its first checks, less the lines keepup does not write (see the module's
/// header).
const LAB: &str = "virtual_server_group G1 {\n 10.1.0.200 443\n 10.1.0.201-205 443\n fwmark 9\n}\n\
        virtual_server 10.1.0.100 80 {\n delay_loop 2\n lb_algo wrr\n lb_kind NAT\n protocol TCP\n\
         persistence_timeout 60\n quorum 2\n hysteresis 1\n quorum_up \"/bin/true up\"\n\
         sorry_server 10.1.0.9 80\n\
         real_server 10.1.0.1 80 {\n  weight 3\n  inhibit_on_failure\n  notify_up \"/bin/true rsup\"\n\
          TCP_CHECK {\n   connect_timeout 2\n   retry 2\n   delay_before_retry 1\n  }\n }\n\
         real_server 10.1.0.2 80 {\n  weight 1\n  HTTP_GET {\n   url {\n    path /\n\
            digest 0123456789abcdef0123456789abcdef\n    status_code 200\n   }\n\
           url {\n    path /x\n    status_code 200-299\n   }\n   connect_timeout 3\n  }\n }\n\
         real_server 10.1.0.3 80 {\n  MISC_CHECK {\n   misc_path \"/bin/true\"\n   misc_timeout 5\n\
           misc_dynamic\n  }\n }\n}\n\
        virtual_server group G1 {\n lb_algo sh\n lb_kind TUN\n protocol TCP\n\
         real_server 10.1.0.1 443 {\n  SSL_GET {\n   url {\n    path /h\n\
            digest 0123456789abcdef0123456789abcdef\n   }\n  }\n }\n}\n";

const EXPECTED: &str = "------< LVS Topology >------
 System is compiled with LVS v1.2.1
 ------< Virtual server group >------
 Virtual Server Group = G1, IPv4 = yes, IPv6 = no
   VIP = 10.1.0.200, VPORT = 443
   VIP Range = 10.1.0.201-10.1.0.205, VPORT = 443
   FWMARK = 9
 ------< Virtual server >------
 VS VIP = 10.1.0.100, VPORT = 80
   Address family = inet
   connection timeout = 5.000000
   delay_loop = 2.000000
   lvs_sched = wrr
   Hashed = disabled
   flag-1 = disabled
   flag-2 = disabled
   flag-3 = disabled
   One packet scheduling = disabled
   persistence timeout = 60
   protocol = TCP
   alpha is OFF
   omega is OFF
   Inhibit on failure is OFF
   quorum = 2, hysteresis = 1
   Quorum up notify script = '/usr/bin/true' 'up', uid:gid 0:0
   Using smtp notification = no
   default forwarding method = NAT
   sorry server = [10.1.0.9]:tcp:80
     forwarding method = NAT
     Inhibit on failure is OFF
   alive = 1
   quorum_state_up = 1
   ------< Real server >------
   RIP = 10.1.0.1, RPORT = 80, WEIGHT = 3 EFF WEIGHT = 3
   forwarding method = NAT
   Alpha is OFF
   connection timeout = 5.000000
   connection limit range = 0 -> 0
   Delay loop = 2.000000
   Inhibit on failure is ON
     RS up notify script = '/usr/bin/true' 'rsup', uid:gid 0:0
   Using smtp notification = no
   initial weight = 3
   effective weight = 3
   alive = 1
   num failed checkers = 0
   RS set = 1
   ------< Real server >------
   RIP = 10.1.0.2, RPORT = 80, WEIGHT = 1 EFF WEIGHT = 1
   forwarding method = NAT
   Alpha is OFF
   connection timeout = 5.000000
   connection limit range = 0 -> 0
   Delay loop = 2.000000
   Inhibit on failure is OFF
   Using smtp notification = no
   initial weight = 1
   effective weight = 1
   alive = 1
   num failed checkers = 0
   RS set = 1
   ------< Real server >------
   RIP = 10.1.0.3, RPORT = 80, WEIGHT = 1 EFF WEIGHT = 1
   forwarding method = NAT
   Alpha is OFF
   connection timeout = 5.000000
   connection limit range = 0 -> 0
   Delay loop = 2.000000
   Inhibit on failure is OFF
   Using smtp notification = no
   initial weight = 1
   effective weight = 1
   alive = 1
   num failed checkers = 0
   RS set = 1
 ------< Virtual server >------
 VS GROUP = [G1]:0
   Address family = inet
   connection timeout = 5.000000
   delay_loop = 60.000000
   lvs_sched = sh
   Hashed = disabled
   sh-port = disabled
   sh-fallback = disabled
   One packet scheduling = disabled
   protocol = TCP
   alpha is OFF
   omega is OFF
   Inhibit on failure is OFF
   quorum = 1, hysteresis = 0
   Using smtp notification = no
   default forwarding method = TUN, type = IPIP
   alive = 1
   quorum_state_up = 1
   ------< Real server >------
   RIP = 10.1.0.1, RPORT = 443, WEIGHT = 1 EFF WEIGHT = 1
   forwarding method = TUN, type = IPIP
   Alpha is OFF
   connection timeout = 5.000000
   connection limit range = 0 -> 0
   Delay loop = 60.000000
   Inhibit on failure is OFF
   Using smtp notification = no
   initial weight = 1
   effective weight = 1
   alive = 1
   num failed checkers = 0
   RS set = 1
------< Health checkers >------
 [10.1.0.100]:tcp:80 -> [10.1.0.1]:tcp:80
   Enabled = yes
   Up = yes
   Has run = no
   Alpha = no
   Delay loop = 2000000 us
   Warmup = 2000000 us
   Retries = 2
   Delay before retry = 1000000 us
   Log all failures = no
   Connection
     Dest = [10.1.0.1]:80
     Timeout = 2.000000
   Keepalive method = TCP_CHECK
 [10.1.0.100]:tcp:80 -> [10.1.0.2]:tcp:80
   Enabled = yes
   Up = yes
   Has run = no
   Alpha = no
   Delay loop = 2000000 us
   Warmup = 2000000 us
   Retries = 1
   Delay before retry = 3000000 us
   Log all failures = no
   Connection
     Dest = [10.1.0.2]:80
     Timeout = 3.000000
   Keepalive method = HTTP_GET, http protocol 1.0
   Enable SNI unset
   Fast recovery unset
   Checked url = /
     digest = 0123456789abcdef0123456789abcdef
     HTTP Status Code(s)
       200
   Checked url = /x
     HTTP Status Code(s)
       200-299
 [10.1.0.100]:tcp:80 -> [10.1.0.3]:tcp:80
   Enabled = yes
   Up = yes
   Has run = no
   Alpha = no
   Delay loop = 2000000 us
   Warmup = 2000000 us
   Retries = 0
   Log all failures = no
   Keepalive method = MISC_CHECK
   script = '/usr/bin/true'
   timeout = 5
   dynamic = YES
   uid:gid = 0:0
 [G1]:0 -> [10.1.0.1]:tcp:443
   Enabled = yes
   Up = yes
   Has run = no
   Alpha = no
   Delay loop = 60000000 us
   Warmup = 60000000 us
   Retries = 1
   Delay before retry = 3000000 us
   Log all failures = no
   Connection
     Dest = [10.1.0.1]:443
     Timeout = 5.000000
   Keepalive method = SSL_GET, http protocol 1.0
   Enable SNI unset
   Fast recovery unset
   Checked url = /h
     digest = 0123456789abcdef0123456789abcdef
     HTTP Status Code(s)
       200-299
";

#[test]
fn the_file_at_start_is_keepalived_2_2_7s() {
    let loaded = keepup_config::load_str("t.conf", LAB, &Default::default());
    let cfg = loaded.config;
    let conf = CheckConf::new(&cfg);
    let plan = keepup_check::plan::Plan::from_config(&cfg);
    let mut sched = keepup_check::sched::Scheduler::new(plan, 1);
    let now = std::time::Instant::now();
    sched.start(now);
    while sched.poll_output().is_some() {}
    let moment = sched.moment(now, std::time::SystemTime::now());
    let names = ["[10.1.0.100]:tcp:80", "[G1]:0"];
    let ipvs = IpvsStatus {
        available: true,
        note: None,
        version: Some((0x010201, 4096)),
        services: names
            .iter()
            .map(|n| crate::status::IpvsService {
                info: keepup_lvs::genl::ServiceInfo {
                    service: keepup_lvs::Service::new(
                        keepup_lvs::ServiceKey::Fwmark {
                            family: keepup_lvs::Family::V4,
                            mark: 1,
                        },
                        "wrr",
                    ),
                    stats: Default::default(),
                },
                owned: true,
                virtual_server: Some(n.to_string()),
                dests: Vec::new(),
            })
            .collect(),
    };
    let text = render(&conf, &moment, Some(&ipvs));
    for (i, (ours, theirs)) in text.lines().zip(EXPECTED.lines()).enumerate() {
        assert_eq!(ours, theirs, "line {}", i + 1);
    }
    assert_eq!(text, EXPECTED);
}

#[test]
fn status_codes_merge_as_keepalived_lists_them() {
    assert_eq!(status_ranges(&[]), ["200-299"]);
    assert_eq!(status_ranges(&[(404, 404)]), ["404"]);
    assert_eq!(
        status_ranges(&[(300, 301), (200, 200), (201, 299)]),
        ["200-301"]
    );
    assert_eq!(status_ranges(&[(200, 200), (404, 404)]), ["200", "404"]);
}
