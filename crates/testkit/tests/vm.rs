//! The VM harness itself: the guest boots Debian's kernel, has IPVS, and runs the host's tools.
//! Named `qemu_*`: scripts/test runs these one at a time, after the namespace tests.
use std::time::Duration;

use keepup_testkit::vm::VmJob;

#[test]
fn qemu_guest_has_ipvs_namespaces_and_the_hosts_tools() {
    let job = VmJob::new("smoke").expect("job dir");
    job.write("hello.txt", "from the host\n").expect("write");
    let run = job
        .run(
            r#"
set -e
uname -r
cat hello.txt
ip link set lo up
ip link add d0 type dummy
ip addr add 10.0.0.1/24 dev d0
ip link set d0 up
ipvsadm -A -t 10.0.0.1:80 -s wlc
ipvsadm -a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 3
ipvsadm -Ln
ip netns add probe
ip -n probe link add v0 type veth peer name v1
ip -n probe -o link show v0
keepalived --version 2>&1 | head -1
echo written-in-guest > back.txt
"#,
            Duration::from_secs(300),
        )
        .expect("boot");
    assert_eq!(
        run.rc, 0,
        "guest output:\n{}\nconsole:\n{}",
        run.output, run.console
    );
    assert!(run.output.contains("-amd64"), "{}", run.output);
    assert!(run.output.contains("from the host"), "{}", run.output);
    assert!(
        run.output.contains("TCP  10.0.0.1:80 wlc") && run.output.contains("-> 10.0.0.2:80"),
        "{}",
        run.output
    );
    assert!(run.output.contains("v0@v1"), "{}", run.output);
    assert!(run.output.contains("Keepalived v2"), "{}", run.output);
    assert_eq!(
        job.read("back.txt").expect("read").trim(),
        "written-in-guest"
    );
    eprintln!("boot and job took {:?}", run.elapsed);
}
