//! A small LZO1X compressor for kdump-lzo pages.
//!
//! Why our own: the LZO1X crates on crates.io are either GPL-2.0 (`lzo1x`, `rust-lzo`),
//! which this MIT/Apache-2.0 project cannot take in, or a one-release raw-pointer port
//! (`lzokay-native`) that would run over guest-controlled data. LZO1X is a fixed
//! bitstream that any LZO1X decompressor reads, whichever compressor made it; this one
//! is a plain greedy matcher written from the format description (Linux's
//! Documentation/staging/lzo.rst), in safe Rust. makedumpfile and crash decompress with
//! liblzo2's `lzo1x_decompress_safe`; the tests check our output against liblzo2.
//!
//! The instructions it emits (the decoder's state after each is noted):
//! - first literal run, 1..238 bytes: `17 + n`, then the bytes;
//! - literal run of 4+ bytes after a match (or a long first run): `0000LLLL` with
//!   L = n - 3, or L = 0 followed by the length in zero bytes (255 each) and a last
//!   byte, counting from 18;
//! - M2, length 3..8, distance 1..2048: `LLLDDDSS HHHHHHHH`, L = len - 1,
//!   distance - 1 = H << 3 | D;
//! - M3, length 3+, distance 1..16384: `001LLLLL` (L = len - 2, or 0 and an extended
//!   length counting from 33), then little-endian `DDDDDDDD DDDDDDSS`, distance - 1 = D;
//! - M4, distance 16385..49151: `0001HLLL` (L = len - 2, or 0 and an extended length
//!   counting from 9), then `DDDDDDDD DDDDDDSS`, distance = 16384 + (H << 14 | D);
//! - end of stream: `0x11 0x00 0x00` (an M4 of distance 16384).
//!
//! SS, the two low bits of the byte two before the end of a match instruction, is the
//! number (0..3) of literals that follow the match; longer runs get their own
//! instruction. The compressor never emits the state-dependent short instructions
//! (0..15 right after a match with SS != 0 or after a literal run).

const MIN_MATCH: usize = 4;
const M2_MAX_LEN: usize = 8;
const M2_MAX_DIST: usize = 2048;
const M3_MAX_DIST: usize = 16384;
const M4_MAX_DIST: usize = 0xbfff;
const HASH_BITS: u32 = 12;

/// The most bytes `compress` can produce for `n` input bytes.
pub fn worst_case(n: usize) -> usize {
    n + n / 16 + 64 + 3
}

fn hash(v: u32) -> usize {
    (v.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize
}

fn read_u32(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// Appends an extended length: zero bytes worth 255 each, then the remainder (1..=255).
fn push_extended(out: &mut Vec<u8>, mut n: usize) {
    while n > 255 {
        out.push(0);
        n -= 255;
    }
    out.push(n as u8);
}

struct Encoder<'a> {
    out: &'a mut Vec<u8>,
    /// Index of the byte holding the SS bits of the last match, if any match was emitted.
    last_ss: Option<usize>,
}

impl Encoder<'_> {
    fn literals(&mut self, lit: &[u8]) {
        let n = lit.len();
        if n == 0 {
            return;
        }
        match self.last_ss {
            None if n <= 238 => self.out.push((17 + n) as u8),
            Some(ss) if n <= 3 => self.out[ss] |= n as u8,
            _ if n <= 18 => self.out.push((n - 3) as u8),
            _ => {
                self.out.push(0);
                push_extended(self.out, n - 18);
            }
        }
        self.out.extend_from_slice(lit);
    }

    fn matched(&mut self, dist: usize, len: usize) {
        if len <= M2_MAX_LEN && dist <= M2_MAX_DIST {
            let d = dist - 1;
            self.last_ss = Some(self.out.len());
            self.out.push((((len - 1) << 5) | ((d & 7) << 2)) as u8);
            self.out.push((d >> 3) as u8);
            return;
        }
        let d = if dist <= M3_MAX_DIST {
            if len <= 33 {
                self.out.push(32 | (len - 2) as u8);
            } else {
                self.out.push(32);
                push_extended(self.out, len - 33);
            }
            dist - 1
        } else {
            let d = dist - 16384;
            let h = ((d >> 14) & 1) as u8;
            if len <= 9 {
                self.out.push(16 | h << 3 | (len - 2) as u8);
            } else {
                self.out.push(16 | h << 3);
                push_extended(self.out, len - 9);
            }
            d & 0x3fff
        };
        self.last_ss = Some(self.out.len());
        self.out.push(((d << 2) & 0xff) as u8);
        self.out.push((d >> 6) as u8);
    }
}

/// Compresses `src` into `out` (cleared first) as one LZO1X stream.
pub fn compress(src: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut e = Encoder { out, last_ss: None };
    let mut table = [0u32; 1 << HASH_BITS];
    let n = src.len();
    let (mut ip, mut lit) = (0usize, 0usize);
    while ip + MIN_MATCH <= n {
        let v = read_u32(src, ip);
        let h = hash(v);
        let cand = table[h] as usize;
        table[h] = ip as u32 + 1;
        if cand > 0 {
            let c = cand - 1;
            let dist = ip - c;
            if dist <= M4_MAX_DIST && read_u32(src, c) == v {
                let mut len = MIN_MATCH;
                while ip + len < n && src[c + len] == src[ip + len] {
                    len += 1;
                }
                e.literals(&src[lit..ip]);
                e.matched(dist, len);
                // Remember a position inside the match for later ones.
                let end = ip + len;
                if end >= 2 && end - 2 > ip && end - 2 + MIN_MATCH <= n {
                    table[hash(read_u32(src, end - 2))] = (end - 2) as u32 + 1;
                }
                ip = end;
                lit = ip;
                continue;
            }
        }
        ip += 1;
    }
    e.literals(&src[lit..]);
    e.out.extend_from_slice(&[0x11, 0, 0]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_tiny_streams() {
        let mut out = Vec::new();
        compress(b"", &mut out);
        assert_eq!(out, [0x11, 0, 0]);
        compress(b"abc", &mut out);
        assert_eq!(out, [20, b'a', b'b', b'c', 0x11, 0, 0]);
    }

    #[test]
    fn a_run_becomes_one_match() {
        let mut out = Vec::new();
        compress(&[7u8; 4096], &mut out);
        // First literal (one byte), then an M3 of distance 1 covering the rest.
        assert_eq!(out[..2], [18, 7]);
        assert_eq!(out[2], 32, "M3 with an extended length");
        assert!(out.len() < 40, "{out:?}");
        assert_eq!(out[out.len() - 3..], [0x11, 0, 0]);
    }

    #[test]
    fn output_stays_within_worst_case() {
        let mut x = 0x1234_5678u32;
        let data: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let mut out = Vec::new();
        compress(&data, &mut out);
        assert!(out.len() <= worst_case(data.len()));
    }
}
