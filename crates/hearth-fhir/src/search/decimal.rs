//! Exact decimal numbers for number and quantity search
//! (<https://hl7.org/fhir/R4/search.html#number>): values are read from their
//! JSON text (serde_json's `arbitrary_precision` keeps it), never through `f64`,
//! so `100.00` keeps its precision and `0.1 + 0.2`-style rounding cannot move a
//! value across a range boundary.

use std::cmp::Ordering;

/// `m × 10^e`, with at most 38 significant digits (more are truncated).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dec {
    m: i128,
    e: i32,
}

const MAX_DIGITS: usize = 38;

impl Dec {
    pub(crate) const ZERO: Dec = Dec { m: 0, e: 0 };

    /// Parses a FHIR decimal / JSON number (`-12.50`, `1e2`, `+3`). The exponent
    /// keeps the written precision: `100.00` is `10000 × 10^-2`.
    pub(crate) fn parse(s: &str) -> Option<Dec> {
        let b = s.as_bytes();
        let mut i = 0;
        let neg = match b.first() {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let mut m: i128 = 0;
        let mut e: i32 = 0;
        let mut digits = 0usize;
        let mut significant = 0usize;
        let mut seen_point = false;
        while i < b.len() {
            let c = b[i];
            if c.is_ascii_digit() {
                digits += 1;
                if significant < MAX_DIGITS {
                    m = m * 10 + i128::from(c - b'0');
                    if m != 0 {
                        significant += 1;
                    }
                    if seen_point {
                        e -= 1;
                    }
                } else if !seen_point {
                    e += 1; // dropped integer digit
                }
            } else if c == b'.' && !seen_point {
                seen_point = true;
            } else {
                break;
            }
            i += 1;
        }
        if digits == 0 || (seen_point && b.get(i - 1) == Some(&b'.')) {
            return None;
        }
        if i < b.len() {
            if b[i] != b'e' && b[i] != b'E' {
                return None;
            }
            let exp: i32 = s[i + 1..].strip_prefix('+').unwrap_or(&s[i + 1..]).parse().ok()?;
            e = e.checked_add(exp)?;
        }
        Some(Dec {
            m: if neg { -m } else { m },
            e,
        })
    }

    /// Half a unit of the last written digit: the implicit precision of `self`
    /// (`100` → 0.5, `100.00` → 0.005, `1e2` → 50).
    pub(crate) fn half_ulp(self) -> Dec {
        Dec {
            m: 5,
            e: self.e.saturating_sub(1),
        }
    }

    pub(crate) fn abs(self) -> Dec {
        Dec {
            m: self.m.abs(),
            e: self.e,
        }
    }

    /// A tenth of `self`.
    pub(crate) fn tenth(self) -> Dec {
        Dec {
            m: self.m,
            e: self.e.saturating_sub(1),
        }
    }

    fn align(a: Dec, b: Dec) -> Option<(i128, i128)> {
        if a.e == b.e {
            return Some((a.m, b.m));
        }
        let (hi, lo, swapped) = if a.e > b.e { (a, b, false) } else { (b, a, true) };
        let scale = 10i128.checked_pow(u32::try_from(hi.e - lo.e).ok()?)?;
        let hm = hi.m.checked_mul(scale)?;
        Some(if swapped { (lo.m, hm) } else { (hm, lo.m) })
    }

    pub(crate) fn checked_add(self, other: Dec) -> Option<Dec> {
        let (a, b) = Dec::align(self, other)?;
        Some(Dec {
            m: a.checked_add(b)?,
            e: self.e.min(other.e),
        })
    }

    pub(crate) fn checked_sub(self, other: Dec) -> Option<Dec> {
        self.checked_add(Dec {
            m: -other.m,
            e: other.e,
        })
    }

    pub(crate) fn max(self, other: Dec) -> Dec {
        if self.cmp(&other) == Ordering::Less {
            other
        } else {
            self
        }
    }
}

impl PartialEq for Dec {
    fn eq(&self, other: &Dec) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Dec {}

impl PartialOrd for Dec {
    fn partial_cmp(&self, other: &Dec) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Dec {
    fn cmp(&self, other: &Dec) -> Ordering {
        let (sa, sb) = (self.m.signum(), other.m.signum());
        if sa != sb {
            return sa.cmp(&sb);
        }
        if sa == 0 {
            return Ordering::Equal;
        }
        match Dec::align(*self, *other) {
            Some((a, b)) => a.cmp(&b),
            // Scaling overflowed: the operand with the larger exponent has the
            // larger magnitude.
            None => {
                let bigger_self = self.e > other.e;
                match (bigger_self, sa > 0) {
                    (true, true) | (false, false) => Ordering::Greater,
                    _ => Ordering::Less,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Dec {
        Dec::parse(s).unwrap()
    }

    #[test]
    fn parses_and_compares_exactly() {
        assert_eq!(d("100"), d("100.00"));
        assert_eq!(d("1e2"), d("100"));
        assert!(d("0.1").checked_add(d("0.2")).unwrap() == d("0.3"));
        assert!(d("-5") < d("-4.99"));
        assert!(d("99.5") < d("100"));
        assert!(d("1e30") > d("123456789012345678901234567890"));
        assert!(d("-1e300") < d("-1"));
        assert!(d("1e300") > d("1e-300"));
        assert_eq!(d("100").half_ulp(), d("0.5"));
        assert_eq!(d("100.00").half_ulp(), d("0.005"));
        assert_eq!(d("1e2").half_ulp(), d("50"));
        assert_eq!(d("0").cmp(&d("-0.0")), Ordering::Equal);
        for bad in ["", "-", ".", "1.", "1..2", "1e", "abc", "1x"] {
            assert!(Dec::parse(bad).is_none(), "{bad}");
        }
    }
}
