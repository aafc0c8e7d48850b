//! The IPVS generic-netlink socket: blocking, for a dedicated thread.
//!
//! Messages are keepup-lvs's `genl` codec; this file only moves bytes. Changes are
//! pipelined: many requests, each with NLM_F_ACK, go back to back in one `sendmsg`
//! (the kernel handles them one by one inside that call and queues one ACK or error
//! each), then the replies are matched to their requests by sequence number. At most
//! [`WINDOW`] requests (fewer with a small receive buffer) are unanswered at a time, so that their ACKs always fit the
//! receive buffer (a full buffer would drop them: ENOBUFS).
//!
//! Dumps cannot be pipelined: a netlink socket runs one dump at a time and answers
//! EBUSY to a second started while the first is running (net/netlink/af_netlink.c,
//! `netlink_dump_start`). A dump is therefore sent alone and read to its NLMSG_DONE.
use std::io;
use std::process::Command;

use keepup_lvs::genl::{
    self, DestInfo, Received, Reply, Request, ServiceInfo, SyncDaemon, SyncState, Timeouts,
};
use keepup_lvs::{Op, ServiceKey};
use netlink_sys::{protocols::NETLINK_GENERIC, Socket, SocketAddr};

/// Requests unanswered at a time, at most. An ACK costs about 1 KiB of receive buffer
/// (the skb's truesize), so 1,024 fit the 4 MiB asked for below with room to spare; with
/// a smaller buffer (SO_RCVBUFFORCE refused) the window shrinks to fit it.
pub const WINDOW: usize = 1024;
/// Receive-buffer bytes counted per unanswered request.
const ACK_COST: usize = 2048;
/// Bytes per `sendmsg`: the kernel copies a batch into one skb.
const BATCH_BYTES: usize = 128 * 1024;
const RCVBUF: usize = 4 << 20;
const SNDBUF: usize = 1 << 20;
/// Dump parts are at most 32 KiB; a datagram never exceeds this.
const RECV_BUF: usize = 64 * 1024;

/// Why the IPVS socket could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IpvsError {
    /// The kernel has no IPVS family, even after `modprobe ip_vs`.
    #[error("IPVS is not available in this kernel (module ip_vs missing?)")]
    NotAvailable,
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Kernel(#[from] KernelError),
    #[error("malformed reply from the kernel: {0}")]
    Decode(#[from] genl::DecodeError),
}

/// The kernel's refusal of one request: a positive errno and the extended ACK's text.
/// A transport failure (the socket's own errno) is reported the same way for the
/// requests it left unanswered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct KernelError {
    pub errno: i32,
    pub message: Option<String>,
}

impl std::fmt::Display for KernelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let e = io::Error::from_raw_os_error(self.errno);
        match &self.message {
            Some(m) => write!(f, "{e} ({m})"),
            None => write!(f, "{e}"),
        }
    }
}

impl KernelError {
    fn from_io(e: &io::Error) -> KernelError {
        KernelError {
            errno: e.raw_os_error().unwrap_or(libc::EIO),
            message: Some(e.to_string()),
        }
    }
}

/// A NETLINK_GENERIC socket talking to the kernel's IPVS family.
pub struct Ipvs {
    sock: Socket,
    family: u16,
    port_id: u32,
    seq: u32,
    rx: Vec<u8>,
    window: usize,
}

impl Ipvs {
    /// Opens the socket and resolves the family "IPVS". When the family is missing,
    /// loads the module as keepalived does (`modprobe ip_vs`, with the kernel's own
    /// modprobe path) and asks once more; [`IpvsError::NotAvailable`] if still missing.
    pub fn open() -> Result<Ipvs, IpvsError> {
        let io = |what| move |source| IpvsError::Io { what, source };
        let mut sock = Socket::new(NETLINK_GENERIC).map_err(io("netlink socket"))?;
        let addr = sock.bind_auto().map_err(io("binding the netlink socket"))?;
        sock.connect(&SocketAddr::new(0, 0))
            .map_err(io("connecting the netlink socket"))?;
        // Hints; an old kernel without them still works.
        let _ = sock.set_ext_ack(true);
        let _ = sock.set_cap_ack(true);
        raise_buffers(&sock);
        let window = sock
            .get_rx_buf_sz()
            .map(|b| (b / ACK_COST).clamp(8, WINDOW))
            .unwrap_or(8);
        let mut ipvs = Ipvs {
            sock,
            family: 0,
            port_id: addr.port_number(),
            seq: 1,
            rx: Vec::with_capacity(RECV_BUF),
            window,
        };
        ipvs.family = match ipvs.resolve()? {
            Some(id) => id,
            None => {
                load_module();
                ipvs.resolve()?.ok_or(IpvsError::NotAvailable)?
            }
        };
        Ok(ipvs)
    }

    /// The family id the controller gave.
    pub fn family_id(&self) -> u16 {
        self.family
    }

    /// How many requests [`Ipvs::transact`] leaves unanswered at most.
    pub fn window(&self) -> usize {
        self.window
    }

    fn resolve(&mut self) -> Result<Option<u16>, IpvsError> {
        let seq = self.next_seq();
        let mut buf = Vec::new();
        genl::encode_get_family(genl::IPVS_FAMILY_NAME, seq, self.port_id, &mut buf);
        self.send(&buf)?;
        let mut id = None;
        loop {
            for r in self.recv()? {
                if r.seq != seq {
                    continue;
                }
                match r.reply? {
                    Reply::Family { id: i, .. } => id = Some(i),
                    Reply::Ack | Reply::Done => return Ok(id),
                    Reply::Error { errno, .. } if errno == libc::ENOENT => return Ok(None),
                    Reply::Error { errno, message } => {
                        return Err(KernelError { errno, message }.into())
                    }
                    _ => {}
                }
            }
        }
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    fn send(&self, buf: &[u8]) -> Result<(), IpvsError> {
        let n = self.sock.send(buf, 0).map_err(|source| IpvsError::Io {
            what: "sending to IPVS",
            source,
        })?;
        if n != buf.len() {
            return Err(IpvsError::Io {
                what: "sending to IPVS",
                source: io::Error::new(io::ErrorKind::WriteZero, "short netlink send"),
            });
        }
        Ok(())
    }

    /// One datagram, decoded.
    fn recv(&mut self) -> Result<Vec<Received>, IpvsError> {
        self.rx.clear();
        loop {
            match self.sock.recv(&mut self.rx, 0) {
                Ok(_) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(IpvsError::Io {
                        what: "receiving from IPVS",
                        source,
                    })
                }
            }
        }
        genl::decode(&self.rx, self.family)
            .collect::<Result<Vec<_>, _>>()
            .map_err(IpvsError::from)
    }

    /// Sends `reqs` pipelined and returns, in order, each one's replies (the data
    /// messages before its ACK or NLMSG_DONE) or the kernel's error for it. An error
    /// for one request never stops the others.
    pub fn transact(&mut self, reqs: &[Request]) -> Vec<Result<Vec<Reply>, KernelError>> {
        let mut results: Vec<Option<Result<Vec<Reply>, KernelError>>> = vec![None; reqs.len()];
        let mut partial: Vec<Vec<Reply>> = vec![Vec::new(); reqs.len()];
        let mut malformed: Vec<Option<KernelError>> = vec![None; reqs.len()];
        // Sent without an ACK: done without error once a later request is answered.
        let mut quiet = vec![false; reqs.len()];
        // Every request before this one is answered.
        let mut settled = 0usize;
        // Keep sequence numbers unique for the whole batch (no wrap inside it).
        if self.seq.checked_add(reqs.len() as u32 + 1).is_none() {
            self.seq = 0;
        }
        let base = self.seq.wrapping_add(1);
        self.seq = base.wrapping_add(reqs.len() as u32);
        let index = |seq: u32| -> Option<usize> {
            let i = seq.wrapping_sub(base) as usize;
            (i < reqs.len()).then_some(i)
        };
        let (mut next, mut inflight, mut answered) = (0usize, 0usize, 0usize);
        let mut dump_running = false;
        let mut buf = Vec::with_capacity(BATCH_BYTES + 4096);
        while answered < reqs.len() {
            // Send what the window allows; a dump goes alone.
            if !dump_running && next < reqs.len() {
                buf.clear();
                let first = next;
                // Every request of the batch but the last goes without NLM_F_ACK (the
                // kernel answers those only when they fail); the last one's ACK says
                // that the kernel, which takes a socket's requests in order, has done
                // them all. Half the messages, for the kernel and for us.
                let mut last: Option<(usize, usize)> = None;
                while next < reqs.len() && inflight < self.window && buf.len() < BATCH_BYTES {
                    let dump = reqs[next].is_dump();
                    if dump && inflight > 0 {
                        break;
                    }
                    let at = buf.len();
                    genl::encode_quiet(
                        &reqs[next],
                        self.family,
                        base.wrapping_add(next as u32),
                        self.port_id,
                        &mut buf,
                    );
                    quiet[next] = !reqs[next].answers_with_data();
                    last = Some((next, at));
                    next += 1;
                    inflight += 1;
                    if dump {
                        dump_running = true;
                        break;
                    }
                }
                if let Some((i, at)) = last.filter(|&(i, _)| quiet[i]) {
                    genl::ask_ack(&mut buf[at..]);
                    quiet[i] = false;
                }
                if !buf.is_empty() {
                    if let Err(e) = self.send(&buf) {
                        // Nothing of this batch reached the kernel.
                        let err = match &e {
                            IpvsError::Io { source, .. } => KernelError::from_io(source),
                            _ => KernelError {
                                errno: libc::EIO,
                                message: Some(e.to_string()),
                            },
                        };
                        for r in &mut results[first..next] {
                            *r = Some(Err(err.clone()));
                        }
                        answered += next - first;
                        inflight -= next - first;
                        dump_running = false;
                        continue;
                    }
                }
            }
            if inflight == 0 {
                continue;
            }
            let received = match self.recv() {
                Ok(r) => r,
                Err(e) => {
                    // The socket failed (ENOBUFS: replies were lost): whatever is
                    // unanswered gets that error.
                    let err = match &e {
                        IpvsError::Io { source, .. } => KernelError::from_io(source),
                        _ => KernelError {
                            errno: libc::EIO,
                            message: Some(e.to_string()),
                        },
                    };
                    for r in results[..next].iter_mut().filter(|r| r.is_none()) {
                        *r = Some(Err(err.clone()));
                    }
                    answered += inflight;
                    inflight = 0;
                    dump_running = false;
                    continue;
                }
            };
            for r in received {
                let Some(i) = index(r.seq) else { continue };
                if results[i].is_some() {
                    continue;
                }
                let done = match r.reply {
                    Ok(Reply::Ack | Reply::Done) => Some(match malformed[i].take() {
                        Some(e) => Err(e),
                        None => Ok(std::mem::take(&mut partial[i])),
                    }),
                    Ok(Reply::Error { errno, message }) => {
                        Some(Err(KernelError { errno, message }))
                    }
                    Ok(Reply::Other { .. }) => None,
                    Ok(reply) => {
                        partial[i].push(reply);
                        None
                    }
                    // Kept until the request's end, so that a dump is read to its
                    // NLMSG_DONE before the next one starts.
                    Err(e) => {
                        malformed[i].get_or_insert(KernelError {
                            errno: libc::EPROTO,
                            message: Some(format!("malformed reply: {e}")),
                        });
                        None
                    }
                };
                if let Some(d) = done {
                    // The quiet requests before this one were done without error.
                    for j in settled..i {
                        if quiet[j] && results[j].is_none() {
                            results[j] = Some(Ok(Vec::new()));
                            answered += 1;
                            inflight -= 1;
                        }
                    }
                    settled = settled.max(i);
                    results[i] = Some(d);
                    answered += 1;
                    inflight -= 1;
                    if reqs[i].is_dump() {
                        dump_running = false;
                    }
                }
            }
        }
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or(Err(KernelError {
                    errno: libc::EIO,
                    message: None,
                }))
            })
            .collect()
    }

    /// Applies `ops` pipelined: one result per op, in order.
    pub fn apply(&mut self, ops: &[Op]) -> Vec<Result<(), KernelError>> {
        let reqs: Vec<Request> = ops.iter().cloned().map(Request::Op).collect();
        self.transact(&reqs)
            .into_iter()
            .map(|r| r.map(|_| ()))
            .collect()
    }

    fn one(&mut self, req: Request) -> Result<Vec<Reply>, IpvsError> {
        self.transact(std::slice::from_ref(&req))
            .pop()
            .unwrap_or(Err(KernelError {
                errno: libc::EIO,
                message: None,
            }))
            .map_err(IpvsError::from)
    }

    /// Every service, with its counters.
    pub fn services(&mut self) -> Result<Vec<ServiceInfo>, IpvsError> {
        Ok(self
            .one(Request::GetServices)?
            .into_iter()
            .filter_map(|r| match r {
                Reply::Service(s) => Some(s),
                _ => None,
            })
            .collect())
    }

    /// The destinations of one service.
    pub fn dests(&mut self, key: ServiceKey) -> Result<Vec<DestInfo>, IpvsError> {
        Ok(dests_of(self.one(Request::GetDests(key))?))
    }

    /// The whole table: the services, then the destinations of each (one dump per
    /// service, back to back). A service removed between the two dumps is left out.
    pub fn table(&mut self) -> Result<Vec<(ServiceInfo, Vec<DestInfo>)>, IpvsError> {
        let services = self.services()?;
        let reqs: Vec<Request> = services
            .iter()
            .map(|s| Request::GetDests(s.service.key))
            .collect();
        let mut out = Vec::with_capacity(services.len());
        for (s, r) in services.into_iter().zip(self.transact(&reqs)) {
            match r {
                Ok(replies) => out.push((s, dests_of(replies))),
                Err(e) if e.errno == libc::ESRCH || e.errno == libc::ENOENT => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }

    /// IPVS's version and connection table size.
    pub fn info(&mut self) -> Result<(u32, u32), IpvsError> {
        for r in self.one(Request::GetInfo)? {
            if let Reply::Info {
                version,
                conn_tab_size,
            } = r
            {
                return Ok((version, conn_tab_size));
            }
        }
        Err(genl::DecodeError::Missing("IPVS_CMD_SET_INFO in the reply").into())
    }

    pub fn timeouts(&mut self) -> Result<Timeouts, IpvsError> {
        for r in self.one(Request::GetConfig)? {
            if let Reply::Config(t) = r {
                return Ok(t);
            }
        }
        Err(genl::DecodeError::Missing("IPVS_CMD_SET_CONFIG in the reply").into())
    }

    /// Sets the timeouts; a 0 leaves that one as it is.
    pub fn set_timeouts(&mut self, t: Timeouts) -> Result<(), IpvsError> {
        self.one(Request::SetConfig(t)).map(|_| ())
    }

    /// Removes every service.
    pub fn flush(&mut self) -> Result<(), IpvsError> {
        self.one(Request::Flush).map(|_| ())
    }

    pub fn daemons(&mut self) -> Result<Vec<SyncDaemon>, IpvsError> {
        Ok(self
            .one(Request::GetDaemons)?
            .into_iter()
            .filter_map(|r| match r {
                Reply::Daemon(d) => Some(d),
                _ => None,
            })
            .collect())
    }

    pub fn start_daemon(&mut self, d: SyncDaemon) -> Result<(), IpvsError> {
        self.one(Request::NewDaemon(d)).map(|_| ())
    }

    pub fn stop_daemon(&mut self, state: SyncState) -> Result<(), IpvsError> {
        self.one(Request::DelDaemon(state)).map(|_| ())
    }
}

fn dests_of(replies: Vec<Reply>) -> Vec<DestInfo> {
    replies
        .into_iter()
        .filter_map(|r| match r {
            Reply::Dest(d) => Some(d),
            _ => None,
        })
        .collect()
}

/// Asks for big socket buffers: SO_*BUFFORCE (root) beyond the sysctl maximum, else
/// what the sysctl allows. Either may fail; the window keeps us safe regardless.
fn raise_buffers(sock: &Socket) {
    use std::os::fd::AsRawFd;
    let fd = sock.as_raw_fd();
    for (force, plain, size) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF, RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF, SNDBUF),
    ] {
        if setsockopt_int(fd, force, size as libc::c_int).is_err() {
            let _ = setsockopt_int(fd, plain, size as libc::c_int);
        }
    }
}

fn setsockopt_int(fd: std::os::fd::RawFd, opt: libc::c_int, v: libc::c_int) -> io::Result<()> {
    // SAFETY: `fd` is the open netlink socket `Ipvs` owns; the value pointer and length
    // describe a live c_int on this stack frame, which the kernel only reads.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `modprobe ip_vs` with the program the kernel itself uses for module requests
/// (/proc/sys/kernel/modprobe), as keepalived does; plain `modprobe` otherwise.
fn load_module() {
    let path = std::fs::read_to_string("/proc/sys/kernel/modprobe")
        .ok()
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty() && std::path::Path::new(p).is_file())
        .unwrap_or_else(|| "modprobe".to_owned());
    let _ = Command::new(path)
        .args(["-q", "ip_vs"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

/// Whether this kernel could load IPVS: built in, or `ip_vs.ko` in its module index.
/// Loads nothing (`keepup check` asks).
pub fn module_available() -> bool {
    crate::kernel_module_available("ip_vs")
}
