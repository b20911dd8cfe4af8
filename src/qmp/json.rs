//! JSON as QEMU's monitor reads and writes it.
//!
//! QMP clients see QEMU's parser, quirks included, so this is a separate implementation
//! of the same observable behaviour (checked against a real `qemu-system-riscv64`):
//!
//! - **Lexer**: RFC 8259 tokens plus single-quoted strings and `\'`; keywords are
//!   `[a-z]+` and judged by the parser; bytes 0x20..=0xFD may appear in strings (UTF-8 is
//!   checked by the parser). A bad byte makes an error token that includes it; the lexer
//!   then skips input until a structural character (`{}[]:,`), a control character other
//!   than tab, or 0xFE/0xFF.
//! - **Streamer**: counts braces and brackets; a message is complete when both return
//!   to zero (or one goes negative). Tokens outside any bracket are messages by
//!   themselves. Limits: 64 MiB of tokens per message, 2^21 tokens, nesting 1024.
//! - **Parser**: recursive descent over one message's tokens; the first error wins.
//!   Integers become i64, else u64, else f64.
//! - **Writer** ([`to_string`]): `", "` between members, `": "` after keys, non-ASCII and
//!   control characters as `\uXXXX` (upper-case hex), doubles as C's `%.17g`.

use serde_json::{Map, Number, Value};

const MAX_TOKEN_SIZE: usize = 64 << 20;
const MAX_TOKEN_COUNT: usize = 2 << 20;
const MAX_NESTING: i64 = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    LCurly,
    RCurly,
    LSquare,
    RSquare,
    Colon,
    Comma,
    Integer,
    Float,
    Keyword,
    String,
    Error,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Start,
    Recovery,
    DqString,
    DqEscape,
    SqString,
    SqEscape,
    Zero,
    NonZero,
    Neg,
    Mantissa,
    MantissaDigits,
    ExpE,
    ExpSign,
    ExpDigits,
    Keyword,
}

/// What one input byte does in a state.
enum Step {
    /// Consume the byte and go to the state.
    Go(State),
    /// Consume the byte; it completes a token.
    Done(Kind),
    /// The token ended before this byte, which is looked at again from `Start`.
    EndBefore(Kind),
    /// Consume the byte, skip it (whitespace).
    Skip,
    /// Consume the byte; it makes the token an error.
    Fail,
}

fn step(state: State, b: u8) -> Step {
    use State::*;
    use Step::*;
    match state {
        Start => match b {
            b'"' => Go(DqString),
            b'\'' => Go(SqString),
            b'0' => Go(Zero),
            b'1'..=b'9' => Go(NonZero),
            b'-' => Go(Neg),
            b'{' => Done(Kind::LCurly),
            b'}' => Done(Kind::RCurly),
            b'[' => Done(Kind::LSquare),
            b']' => Done(Kind::RSquare),
            b',' => Done(Kind::Comma),
            b':' => Done(Kind::Colon),
            b'a'..=b'z' => Go(Keyword),
            b' ' | b'\t' | b'\r' | b'\n' => Skip,
            _ => Fail,
        },
        Recovery => unreachable!("recovery is handled before the table"),
        DqString => match b {
            b'"' => Done(Kind::String),
            b'\\' => Go(DqEscape),
            0x20..=0xfd => Go(DqString),
            _ => Fail,
        },
        SqString => match b {
            b'\'' => Done(Kind::String),
            b'\\' => Go(SqEscape),
            0x20..=0xfd => Go(SqString),
            _ => Fail,
        },
        DqEscape => match b {
            0x20..=0xfd => Go(DqString),
            _ => Fail,
        },
        SqEscape => match b {
            0x20..=0xfd => Go(SqString),
            _ => Fail,
        },
        Zero => match b {
            b'0'..=b'9' => Fail,
            b'.' => Go(Mantissa),
            _ => EndBefore(Kind::Integer),
        },
        NonZero => match b {
            b'0'..=b'9' => Go(NonZero),
            b'e' | b'E' => Go(ExpE),
            b'.' => Go(Mantissa),
            _ => EndBefore(Kind::Integer),
        },
        Neg => match b {
            b'0' => Go(Zero),
            b'1'..=b'9' => Go(NonZero),
            _ => Fail,
        },
        Mantissa => match b {
            b'0'..=b'9' => Go(MantissaDigits),
            _ => Fail,
        },
        MantissaDigits => match b {
            b'0'..=b'9' => Go(MantissaDigits),
            b'e' | b'E' => Go(ExpE),
            _ => EndBefore(Kind::Float),
        },
        ExpE => match b {
            b'+' | b'-' => Go(ExpSign),
            b'0'..=b'9' => Go(ExpDigits),
            _ => Fail,
        },
        ExpSign => match b {
            b'0'..=b'9' => Go(ExpDigits),
            _ => Fail,
        },
        ExpDigits => match b {
            b'0'..=b'9' => Go(ExpDigits),
            _ => EndBefore(Kind::Float),
        },
        Keyword => match b {
            b'a'..=b'z' => Go(Keyword),
            _ => EndBefore(Kind::Keyword),
        },
    }
}

/// Turns a byte stream into QMP messages: each is a JSON value or QEMU's parse error.
pub struct Streamer {
    state: State,
    token: Vec<u8>,
    tokens: Vec<(Kind, Vec<u8>)>,
    size: usize,
    braces: i64,
    brackets: i64,
}

impl Default for Streamer {
    fn default() -> Streamer {
        Streamer::new()
    }
}

impl Streamer {
    pub fn new() -> Streamer {
        Streamer {
            state: State::Start,
            token: Vec::new(),
            tokens: Vec::new(),
            size: 0,
            braces: 0,
            brackets: 0,
        }
    }

    /// Bytes buffered for an incomplete message.
    pub fn pending(&self) -> usize {
        self.size + self.token.len()
    }

    /// Feeds bytes; complete messages are appended to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Result<Value, String>>) {
        for &b in bytes {
            self.byte(b, out);
        }
    }

    fn byte(&mut self, b: u8, out: &mut Vec<Result<Value, String>>) {
        loop {
            if self.state == State::Recovery {
                let resync = matches!(b, b'{' | b'}' | b'[' | b']' | b':' | b',' | 0xfe | 0xff)
                    || (b < 0x20 && b != b'\t');
                if !resync {
                    return;
                }
                self.state = State::Start;
            }
            match step(self.state, b) {
                Step::Go(s) => {
                    self.token.push(b);
                    self.state = s;
                    if self.token.len() > MAX_TOKEN_SIZE {
                        // One token larger than a whole message may be: give up on it.
                        self.token.clear();
                        self.state = State::Recovery;
                        self.reset();
                        out.push(Err("JSON token size limit exceeded".into()));
                    }
                    return;
                }
                Step::Done(k) => {
                    self.token.push(b);
                    self.state = State::Start;
                    let t = std::mem::take(&mut self.token);
                    self.token_done(k, t, out);
                    return;
                }
                Step::EndBefore(k) => {
                    self.state = State::Start;
                    let t = std::mem::take(&mut self.token);
                    self.token_done(k, t, out);
                    // Look at `b` again from Start.
                }
                Step::Skip => return,
                Step::Fail => {
                    self.token.push(b);
                    self.state = State::Recovery;
                    let t = std::mem::take(&mut self.token);
                    self.token_done(Kind::Error, t, out);
                    return;
                }
            }
        }
    }

    fn reset(&mut self) {
        self.tokens.clear();
        self.size = 0;
        self.braces = 0;
        self.brackets = 0;
    }

    fn token_done(&mut self, kind: Kind, text: Vec<u8>, out: &mut Vec<Result<Value, String>>) {
        match kind {
            Kind::LCurly => self.braces += 1,
            Kind::RCurly => self.braces -= 1,
            Kind::LSquare => self.brackets += 1,
            Kind::RSquare => self.brackets -= 1,
            Kind::Error => {
                self.reset();
                out.push(Err(format!(
                    "JSON parse error, stray '{}'",
                    String::from_utf8_lossy(&text)
                )));
                return;
            }
            _ => {}
        }
        let err = if self.size + text.len() + 1 > MAX_TOKEN_SIZE {
            Some("JSON token size limit exceeded")
        } else if self.tokens.len() + 1 > MAX_TOKEN_COUNT {
            Some("JSON token count limit exceeded")
        } else if self.braces + self.brackets > MAX_NESTING {
            Some("JSON nesting depth limit exceeded")
        } else {
            None
        };
        if let Some(e) = err {
            self.reset();
            out.push(Err(e.into()));
            return;
        }
        self.size += text.len();
        self.tokens.push((kind, text));
        if (self.braces > 0 || self.brackets > 0) && self.braces >= 0 && self.brackets >= 0 {
            return;
        }
        let tokens = std::mem::take(&mut self.tokens);
        self.reset();
        let mut p = Parser {
            tokens: &tokens,
            pos: 0,
            err: None,
        };
        let v = p.value();
        out.push(match (v, p.err) {
            (Some(v), None) => Ok(v),
            (_, Some(e)) => Err(format!("JSON parse error, {e}")),
            (None, None) => Err("JSON parse error, expecting value".into()),
        });
    }
}

struct Parser<'a> {
    tokens: &'a [(Kind, Vec<u8>)],
    pos: usize,
    err: Option<String>,
}

impl Parser<'_> {
    fn error(&mut self, msg: String) {
        if self.err.is_none() {
            self.err = Some(msg);
        }
    }

    fn peek(&self) -> Option<Kind> {
        self.tokens.get(self.pos).map(|t| t.0)
    }

    fn pop(&mut self) -> Option<Kind> {
        let k = self.peek();
        self.pos += 1;
        k
    }

    fn value(&mut self) -> Option<Value> {
        let Some(kind) = self.peek() else {
            self.error("premature EOI".into());
            return None;
        };
        match kind {
            Kind::LCurly => self.object(),
            Kind::LSquare => self.array(),
            Kind::String => {
                let text = &self.tokens[self.pos].1;
                self.pos += 1;
                match unescape(text) {
                    Ok(s) => Some(Value::String(s)),
                    Err(e) => {
                        self.error(e);
                        None
                    }
                }
            }
            Kind::Integer | Kind::Float => {
                let text = String::from_utf8_lossy(&self.tokens[self.pos].1).into_owned();
                self.pos += 1;
                Some(number(&text, kind == Kind::Integer))
            }
            Kind::Keyword => {
                let text = String::from_utf8_lossy(&self.tokens[self.pos].1).into_owned();
                self.pos += 1;
                match text.as_str() {
                    "true" => Some(Value::Bool(true)),
                    "false" => Some(Value::Bool(false)),
                    "null" => Some(Value::Null),
                    _ => {
                        self.error(format!("invalid keyword '{text}'"));
                        None
                    }
                }
            }
            _ => {
                self.error("expecting value".into());
                None
            }
        }
    }

    fn object(&mut self) -> Option<Value> {
        self.pop();
        let mut map = Map::new();
        match self.peek() {
            None => {
                self.error("premature EOI".into());
                return None;
            }
            Some(Kind::RCurly) => {
                self.pop();
                return Some(Value::Object(map));
            }
            Some(_) => {}
        }
        loop {
            self.pair(&mut map)?;
            match self.pop() {
                None => {
                    self.error("premature EOI".into());
                    return None;
                }
                Some(Kind::RCurly) => return Some(Value::Object(map)),
                Some(Kind::Comma) => {}
                Some(_) => {
                    self.error("expected separator in dict".into());
                    return None;
                }
            }
        }
    }

    fn pair(&mut self, map: &mut Map<String, Value>) -> Option<()> {
        if self.peek().is_none() {
            self.error("premature EOI".into());
            return None;
        }
        let key = match self.value() {
            Some(Value::String(k)) => k,
            _ => {
                self.error("key is not a string in object".into());
                return None;
            }
        };
        match self.pop() {
            None => {
                self.error("premature EOI".into());
                return None;
            }
            Some(Kind::Colon) => {}
            Some(_) => {
                self.error("missing : in object pair".into());
                return None;
            }
        }
        let Some(v) = self.value() else {
            self.error("Missing value in dict".into());
            return None;
        };
        if map.contains_key(&key) {
            self.error("duplicate key".into());
            return None;
        }
        map.insert(key, v);
        Some(())
    }

    fn array(&mut self) -> Option<Value> {
        self.pop();
        let mut list = Vec::new();
        match self.peek() {
            None => {
                self.error("premature EOI".into());
                return None;
            }
            Some(Kind::RSquare) => {
                self.pop();
                return Some(Value::Array(list));
            }
            Some(_) => {}
        }
        loop {
            let Some(v) = self.value() else {
                self.error("expecting value".into());
                return None;
            };
            list.push(v);
            match self.pop() {
                None => {
                    self.error("premature EOI".into());
                    return None;
                }
                Some(Kind::RSquare) => return Some(Value::Array(list)),
                Some(Kind::Comma) => {}
                Some(_) => {
                    self.error("expected separator in list".into());
                    return None;
                }
            }
        }
    }
}

fn number(text: &str, integer: bool) -> Value {
    if integer {
        if let Ok(i) = text.parse::<i64>() {
            return Value::Number(i.into());
        }
        if !text.starts_with('-') {
            if let Ok(u) = text.parse::<u64>() {
                return Value::Number(u.into());
            }
        }
    }
    float_value(text.parse::<f64>().unwrap_or(0.0))
}

/// A double as a JSON value. serde_json cannot hold infinities: those become the
/// largest finite double of the same sign (QEMU would print `inf`, which is not JSON).
fn float_value(f: f64) -> Value {
    let f = if f.is_finite() {
        f
    } else if f.is_sign_negative() {
        f64::MIN
    } else {
        f64::MAX
    };
    Number::from_f64(f)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn hex4(s: &[u8]) -> Option<u32> {
    if s.len() < 4 {
        return None;
    }
    let mut v = 0;
    for &c in &s[..4] {
        v = v * 16 + (c as char).to_digit(16)?;
    }
    Some(v)
}

/// Decodes a string token (with its quotes).
fn unescape(tok: &[u8]) -> Result<String, String> {
    let quote = tok[0];
    let body = &tok[1..tok.len().saturating_sub(1).max(1)];
    let mut out: Vec<u8> = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        if c == b'\\' {
            let Some(&e) = body.get(i + 1) else {
                return Err("invalid escape sequence in string".into());
            };
            let simple = match e {
                b'"' => Some(b'"'),
                b'\'' => Some(b'\''),
                b'\\' => Some(b'\\'),
                b'/' => Some(b'/'),
                b'b' => Some(8),
                b'f' => Some(12),
                b'n' => Some(b'\n'),
                b'r' => Some(b'\r'),
                b't' => Some(b'\t'),
                b'u' => None,
                _ => return Err("invalid escape sequence in string".into()),
            };
            if let Some(s) = simple {
                out.push(s);
                i += 2;
                continue;
            }
            let at = i;
            let bad_u = || bad_u_text(&tok[1 + at..], 6);
            let Some(hi) = hex4(&body[i + 2..]) else {
                return Err(bad_u());
            };
            let cp = if (0xd800..0xdc00).contains(&hi) {
                let lo = if body.get(i + 6) == Some(&b'\\') && body.get(i + 7) == Some(&b'u') {
                    hex4(&body[i + 8..])
                } else {
                    None
                };
                match lo {
                    Some(lo) if (0xdc00..0xe000).contains(&lo) => {
                        i += 6;
                        0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                    }
                    _ => return Err(bad_u()),
                }
            } else if (0xdc00..0xe000).contains(&hi) {
                return Err(bad_u());
            } else {
                hi
            };
            let ch = char::from_u32(cp).ok_or_else(bad_u)?;
            let mut buf = [0u8; 4];
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            i += 6;
            continue;
        }
        if c == quote {
            break;
        }
        out.push(c);
        i += 1;
    }
    String::from_utf8(out).map_err(|_| "invalid UTF-8 sequence in string".into())
}

fn bad_u_text(rest: &[u8], n: usize) -> String {
    // The token text from the backslash, at most `n` bytes (QEMU prints `%.*s`).
    let end = n.min(rest.len());
    format!(
        "{} is not a valid Unicode character",
        String::from_utf8_lossy(&rest[..end])
    )
}

/// Writes a value the way QEMU does.
pub fn to_string(v: &Value) -> String {
    let mut s = String::new();
    write(v, &mut s);
    s
}

fn write(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else {
                out.push_str(&format_g17(n.as_f64().unwrap_or(0.0)));
            }
        }
        Value::String(s) => write_str(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str(k, out);
                out.push_str(": ");
                write(x, out);
            }
            out.push('}');
        }
    }
}

fn write_str(s: &str, out: &mut String) {
    use std::fmt::Write;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{:04X}", u);
                }
            }
        }
    }
    out.push('"');
}

/// C's `%.17g`.
pub fn format_g17(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x < 0.0 { "-inf" } else { "inf" }.into();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let e = format!("{:.16e}", x);
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let strip = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if !(-4..17).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{}{:02}", strip(mant), sign, exp.abs())
    } else {
        strip(&format!("{:.*}", (16 - exp) as usize, x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(s: &[u8]) -> Vec<Result<String, String>> {
        let mut st = Streamer::new();
        let mut out = Vec::new();
        st.feed(s, &mut out);
        out.into_iter().map(|r| r.map(|v| to_string(&v))).collect()
    }

    fn errs(s: &[u8]) -> Vec<String> {
        parse_all(s)
            .into_iter()
            .map(|r| match r {
                Ok(v) => format!("ok {v}"),
                Err(e) => e,
            })
            .collect()
    }

    #[test]
    fn objects_and_quirks() {
        assert_eq!(
            errs(b"{'a':'x\"y', \"b\": [1, -2, 0.5]}"),
            ["ok {\"a\": \"x\\\"y\", \"b\": [1, -2, 0.5]}"]
        );
        assert_eq!(errs(b"123 \"s\""), ["ok 123", "ok \"s\""]);
        assert_eq!(errs(b"{\"a\":1}{\"b\":2}").len(), 2);
    }

    /// Error texts and recovery, as recorded from QEMU 7.2.
    #[test]
    fn qemu_error_texts() {
        assert_eq!(
            errs(b"{\"execute\": foo}"),
            ["JSON parse error, invalid keyword 'foo'"]
        );
        assert_eq!(
            errs(b"{\"execute\":\"q\"]}\n}"),
            [
                "JSON parse error, expected separator in dict",
                "JSON parse error, expecting value",
                "JSON parse error, expecting value"
            ]
        );
        assert_eq!(errs(b"{\"a\":1,}"), ["JSON parse error, expecting value"]);
        assert_eq!(errs(b"[1,]"), ["JSON parse error, expecting value"]);
        assert_eq!(
            errs(b"{1:2}"),
            ["JSON parse error, key is not a string in object"]
        );
        assert_eq!(
            errs(b"{\"a\" 1}"),
            ["JSON parse error, missing : in object pair"]
        );
        assert_eq!(errs(b"{\"a\":}"), ["JSON parse error, expecting value"]);
        assert_eq!(
            errs(b"{\"a\":\"\\q\"}"),
            ["JSON parse error, invalid escape sequence in string"]
        );
        assert_eq!(
            errs(b"{\"a\":\"\\u12\"}"),
            ["JSON parse error, \\u12\" is not a valid Unicode character"]
        );
        assert_eq!(
            errs(b"{\"a\":\"\\ud800\"}"),
            ["JSON parse error, \\ud800 is not a valid Unicode character"]
        );
        assert_eq!(errs(b"@\n"), ["JSON parse error, stray '@'"]);
        assert_eq!(
            errs(b"{\"a\":01}"),
            [
                "JSON parse error, stray '01'",
                "JSON parse error, expecting value"
            ]
        );
        assert_eq!(
            errs(b"{\"a\":\"a\nb\"}\n"),
            [
                "JSON parse error, stray '\"a\n'",
                "JSON parse error, expecting value"
            ]
        );
        assert_eq!(
            errs(b"{\"a\":1,\"a\":2}"),
            ["JSON parse error, duplicate key"]
        );
        assert_eq!(
            errs(b"{\"a\":\"\xc3\x28\"}"),
            ["JSON parse error, invalid UTF-8 sequence in string"]
        );
        assert_eq!(
            errs(b"{\"a\":true1}"),
            ["JSON parse error, expected separator in dict"]
        );
        assert_eq!(
            errs(b"\xff{\"a\":2}"),
            ["JSON parse error, stray '\u{fffd}'", "ok {\"a\": 2}"]
        );
    }

    /// Property: no input panics the parser, and after any garbage a 0xFF byte (the
    /// QMP spec's resynchronisation byte) followed by a valid message yields that
    /// message.
    #[test]
    fn random_garbage_then_resync() {
        let alphabet = b"{}[]:,\"'\\ aeflnrstu019-.+eE\n\t\xff\xc3\x00";
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for round in 0..3000 {
            let mut st = Streamer::new();
            let mut out = Vec::new();
            let len = round % 200;
            let junk: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    alphabet[(seed % alphabet.len() as u64) as usize]
                })
                .collect();
            st.feed(&junk, &mut out);
            out.clear();
            st.feed(b"\xff{\"execute\": \"x\"}", &mut out);
            let last = out.pop().expect("a message after the resync byte");
            assert_eq!(
                last.map(|v| to_string(&v)),
                Ok("{\"execute\": \"x\"}".to_string()),
                "after {junk:?}"
            );
            assert!(st.pending() == 0);
        }
    }

    #[test]
    fn nesting_limit_and_recovery() {
        let mut s = vec![b'['; 1100];
        s.extend(vec![b']'; 1100]);
        let r = errs(&s);
        assert_eq!(r[0], "JSON nesting depth limit exceeded");
        // The 75 brackets after the error make one array; the rest are stray closers.
        assert!(r[1].starts_with("ok [[["));
        assert_eq!(r.len(), 2 + 1025);
        assert!(r[2..]
            .iter()
            .all(|e| e == "JSON parse error, expecting value"));
    }

    #[test]
    fn numbers_and_strings_print_like_qemu() {
        assert_eq!(errs(b"[-0.5e3, 0.1, 1.0, 18446744073709551615, 18446744073709551616, -9223372036854775809]"),
            ["ok [-500, 0.10000000000000001, 1, 18446744073709551615, 1.8446744073709552e+19, -9.2233720368547758e+18]"]);
        assert_eq!(
            errs("[\"é\\ud83d\\ude00\\u0001/\x7f\"]".as_bytes()),
            ["ok [\"\\u00E9\\uD83D\\uDE00\\u0001/\\u007F\"]"]
        );
        assert_eq!(format_g17(1e-5), "1.0000000000000001e-05");
        assert_eq!(format_g17(123456.0), "123456");
    }
}
