//! A stack of FHIRPath-like path segments borrowed from the JSON being
//! walked; the path string is only built when an issue is reported.

use std::fmt::Write;

#[derive(Clone, Copy)]
pub(crate) enum Seg<'a> {
    Name(&'a str),
    Index(usize),
}

#[derive(Default)]
pub(crate) struct PathStack<'a> {
    segs: Vec<Seg<'a>>,
}

impl<'a> PathStack<'a> {
    #[inline]
    pub(crate) fn push(&mut self, seg: Seg<'a>) {
        self.segs.push(seg);
    }

    #[inline]
    pub(crate) fn pop(&mut self) {
        self.segs.pop();
    }

    /// Renders e.g. `Observation.component[1].valueQuantity`, optionally with a
    /// trailing child name.
    pub(crate) fn render(&self, child: Option<&str>) -> String {
        let mut s = String::with_capacity(64);
        for seg in &self.segs {
            match seg {
                Seg::Name(n) => {
                    if !s.is_empty() {
                        s.push('.');
                    }
                    s.push_str(n);
                }
                Seg::Index(i) => {
                    let _ = write!(s, "[{i}]");
                }
            }
        }
        if let Some(c) = child {
            if !s.is_empty() {
                s.push('.');
            }
            s.push_str(c);
        }
        s
    }
}
