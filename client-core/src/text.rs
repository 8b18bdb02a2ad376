//! String building without `core::fmt` for the messages the wasm client
//! makes (the client crates forbid `format!` through `clippy.toml`): these
//! helpers only append bytes, where `core::fmt` pulls in the formatting
//! machinery and an integer `Display` per integer type.

/// The parts, joined with nothing in between.
pub fn cat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        out.push_str(part);
    }
    out
}

/// `n` in decimal, as `n.to_string()` writes it.
pub fn uint(mut n: u64) -> String {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    digits[at..].iter().map(|&d| char::from(d)).collect()
}

/// `n` in decimal, as `n.to_string()` writes it.
pub fn int(n: i64) -> String {
    if n < 0 {
        cat(&["-", &uint(n.unsigned_abs())])
    } else {
        uint(n as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_written_as_display_writes_them() {
        for n in [0, 1, 9, 10, 99, 100, 12_345, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(uint(n), n.to_string());
        }
        for n in [
            0,
            -1,
            1,
            -10,
            42,
            -9_007_199_254_740_993,
            i64::MIN,
            i64::MAX,
        ] {
            assert_eq!(int(n), n.to_string());
        }
    }

    #[test]
    fn parts_are_joined_in_order() {
        assert_eq!(cat(&["a", "", "bc", "d"]), "abcd");
        assert_eq!(cat(&[]), "");
    }
}
