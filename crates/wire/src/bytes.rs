//! Panic-free reads and writes at fixed offsets. Out-of-range reads give zeros and
//! out-of-range writes do nothing; every view's `check_len` makes sure that never
//! happens for the fields it exposes.

pub(crate) fn u8_at(b: &[u8], at: usize) -> u8 {
    b.get(at).copied().unwrap_or(0)
}

pub(crate) fn array<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = at.checked_add(N).and_then(|end| b.get(at..end)) {
        out.copy_from_slice(src);
    }
    out
}

pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes(array(b, at))
}

pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(array(b, at))
}

pub(crate) fn put(b: &mut [u8], at: usize, src: &[u8]) {
    if let Some(dst) = at.checked_add(src.len()).and_then(|end| b.get_mut(at..end)) {
        dst.copy_from_slice(src);
    }
}

pub(crate) fn put_u8(b: &mut [u8], at: usize, v: u8) {
    if let Some(d) = b.get_mut(at) {
        *d = v;
    }
}

pub(crate) fn put_be16(b: &mut [u8], at: usize, v: u16) {
    put(b, at, &v.to_be_bytes());
}

pub(crate) fn put_be32(b: &mut [u8], at: usize, v: u32) {
    put(b, at, &v.to_be_bytes());
}
