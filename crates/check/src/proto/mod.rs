//! Pure protocol logic for the probes: bytes in, verdicts out. No sockets, no clock.
pub mod dns;
pub mod http;
pub mod smtp;
pub mod udp;
