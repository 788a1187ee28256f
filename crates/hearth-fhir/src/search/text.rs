//! Case- and accent-insensitive string comparison for string search
//! (<https://hl7.org/fhir/R4/search.html#string>: "matches ... after both have
//! been normalized by case and accent").
//!
//! Folding lower-cases (full Unicode lower-casing), drops combining marks
//! (U+0300–U+036F, so decomposed input folds like precomposed input) and maps
//! the precomposed letters of Latin-1 Supplement and Latin Extended-A to their
//! base letters (`é`→`e`, `ł`→`l`, `ß`→`ss`, `æ`→`ae`, `œ`→`oe`, `þ`→`th`).
//! Other scripts are only lower-cased.

/// Calls `f` with each folded char of `s`; stops early when `f` returns false.
/// Returns false when stopped early.
fn for_each_folded(s: &str, f: &mut impl FnMut(char) -> bool) -> bool {
    for c in s.chars() {
        if c.is_ascii() {
            if !f(c.to_ascii_lowercase()) {
                return false;
            }
            continue;
        }
        if ('\u{300}'..='\u{36f}').contains(&c) {
            continue;
        }
        for l in c.to_lowercase() {
            let (a, b) = base_letter(l);
            if !f(a) {
                return false;
            }
            if let Some(b) = b
                && !f(b)
            {
                return false;
            }
        }
    }
    true
}

fn base_letter(c: char) -> (char, Option<char>) {
    let one = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => 'a',
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => 'c',
        'ď' | 'đ' | 'ð' => 'd',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => 'e',
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => 'g',
        'ĥ' | 'ħ' => 'h',
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => 'i',
        'ĵ' => 'j',
        'ķ' | 'ĸ' => 'k',
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => 'l',
        'ñ' | 'ń' | 'ņ' | 'ň' | 'ŉ' | 'ŋ' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => 'o',
        'ŕ' | 'ŗ' | 'ř' => 'r',
        'ś' | 'ŝ' | 'ş' | 'š' | 'ș' | 'ſ' => 's',
        'ţ' | 'ť' | 'ŧ' | 'ț' => 't',
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => 'u',
        'ŵ' => 'w',
        'ý' | 'ÿ' | 'ŷ' => 'y',
        'ź' | 'ż' | 'ž' => 'z',
        'ß' => return ('s', Some('s')),
        'æ' => return ('a', Some('e')),
        'œ' => return ('o', Some('e')),
        'þ' => return ('t', Some('h')),
        'ĳ' => return ('i', Some('j')),
        other => other,
    };
    (one, None)
}

/// The folded form of `s`.
pub(crate) fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for_each_folded(s, &mut |c| {
        out.push(c);
        true
    });
    out
}

/// Whether folded `s` starts with `folded_prefix` (already folded); no allocation.
pub(crate) fn starts_with_folded(s: &str, folded_prefix: &str) -> bool {
    let mut want = folded_prefix.chars();
    let mut ok = true;
    for_each_folded(s, &mut |c| match want.next() {
        None => false,
        Some(w) if w == c => true,
        Some(_) => {
            ok = false;
            false
        }
    });
    ok && want.next().is_none()
}

/// Whether folded `s` contains `folded_needle` (already folded).
pub(crate) fn contains_folded(s: &str, folded_needle: &str) -> bool {
    if folded_needle.is_empty() {
        return true;
    }
    if s.is_ascii() && folded_needle.is_ascii() {
        let (h, n) = (s.as_bytes(), folded_needle.as_bytes());
        return h.len() >= n.len() && h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    }
    fold(s).contains(folded_needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_and_accents() {
        assert_eq!(fold("Ébène Œuvre STRAßE"), "ebene oeuvre strasse");
        assert_eq!(fold("Zoë"), fold("Zoe\u{308}"));
        assert_eq!(fold("Łukasz Dvořák"), "lukasz dvorak");
        assert_eq!(fold("Ωμέγα"), "ωμέγα");
        assert!(starts_with_folded("Évelyne", "eve"));
        assert!(starts_with_folded("eve", "eve"));
        assert!(!starts_with_folded("ev", "eve"));
        assert!(!starts_with_folded("Adam", "eve"));
        assert!(starts_with_folded("anything", ""));
        assert!(contains_folded("Severine", "eve"));
        assert!(contains_folded("SÉVERINE", "eve"));
        assert!(!contains_folded("Sven", "eve"));
    }
}
