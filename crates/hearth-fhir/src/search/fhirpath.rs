//! A parser for the FHIRPath subset used by search parameter expressions
//! (<https://hl7.org/fhirpath/N1/> as referenced by FHIR R4 4.0.1): paths,
//! function calls, indexers, `|`, `is`/`as`, equality, `and`/`or`/`xor`/`implies`,
//! string/number/boolean literals and `$this`.
//!
//! The result is an untyped syntax tree; [`super::compile`] turns it into an
//! evaluation plan typed against the R4 structure definitions.

/// Binary operators, lowest to highest precedence per the FHIRPath grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Implies,
    Or,
    Xor,
    And,
    In,
    Contains,
    Eq,
    Ne,
    Equiv,
    NotEquiv,
    Lt,
    Gt,
    Le,
    Ge,
    Union,
    Add,
    Sub,
    Concat,
    Mul,
    Div,
    IntDiv,
    Mod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypeOp {
    Is,
    As,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ast {
    /// A leading identifier: a member of the context, or a type name.
    Ident(Box<str>),
    Member(Box<Ast>, Box<str>),
    /// `receiver.name(args)`, or a bare `name(args)` on the context.
    Call(Option<Box<Ast>>, Box<str>, Vec<Ast>),
    Index(Box<Ast>, Box<Ast>),
    Binary(BinOp, Box<Ast>, Box<Ast>),
    Type(TypeOp, Box<Ast>, Box<str>),
    Str(Box<str>),
    Num(Box<str>),
    Bool(bool),
    /// `{}`
    Empty,
    This,
    /// `%name`
    Var(Box<str>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// A backtick-delimited identifier (never a keyword).
    Quoted(String),
    Str(String),
    Num(String),
    Sym(&'static str),
    Var(String),
    This,
}

fn tokenize(src: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
            continue;
        }
        if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            if chars.get(i) == Some(&'.') && chars.get(i + 1).is_some_and(char::is_ascii_digit) {
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
            }
            out.push(Tok::Num(chars[start..i].iter().collect()));
            continue;
        }
        if c == '\'' || c == '`' {
            let quote = c;
            i += 1;
            let mut s = String::new();
            loop {
                let Some(&ch) = chars.get(i) else {
                    return Err("unterminated string literal".into());
                };
                i += 1;
                if ch == quote {
                    break;
                }
                if ch == '\\' {
                    let Some(&e) = chars.get(i) else {
                        return Err("unterminated escape".into());
                    };
                    i += 1;
                    match e {
                        'n' => s.push('\n'),
                        't' => s.push('\t'),
                        'r' => s.push('\r'),
                        'f' => s.push('\u{c}'),
                        'u' => {
                            let hex: String = chars.get(i..i + 4).ok_or("bad \\u escape")?.iter().collect();
                            let code = u32::from_str_radix(&hex, 16).map_err(|_| "bad \\u escape")?;
                            s.push(char::from_u32(code).ok_or("bad \\u escape")?);
                            i += 4;
                        }
                        other => s.push(other),
                    }
                } else {
                    s.push(ch);
                }
            }
            out.push(if quote == '\'' {
                Tok::Str(s)
            } else {
                Tok::Quoted(s)
            });
            continue;
        }
        if c == '%' || c == '$' {
            let start = i + 1;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '-')
            {
                i += 1;
            }
            let name: String = chars[start..i].iter().collect();
            if c == '$' {
                if name == "this" {
                    out.push(Tok::This);
                } else {
                    return Err(format!("${name} is not supported"));
                }
            } else {
                out.push(Tok::Var(name));
            }
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let sym2 = ["!=", "<=", ">=", "!~"].into_iter().find(|s| *s == two);
        if let Some(s) = sym2 {
            out.push(Tok::Sym(s));
            i += 2;
            continue;
        }
        let sym = match c {
            '.' => ".",
            '(' => "(",
            ')' => ")",
            '[' => "[",
            ']' => "]",
            '{' => "{",
            '}' => "}",
            ',' => ",",
            '|' => "|",
            '=' => "=",
            '~' => "~",
            '<' => "<",
            '>' => ">",
            '+' => "+",
            '-' => "-",
            '*' => "*",
            '/' => "/",
            '&' => "&",
            _ => return Err(format!("unexpected character {c:?}")),
        };
        out.push(Tok::Sym(sym));
        i += 1;
    }
    Ok(out)
}

/// Parses a FHIRPath expression.
pub(crate) fn parse(src: &str) -> Result<Ast, String> {
    let toks = tokenize(src)?;
    let mut p = Parser { toks, pos: 0 };
    let ast = p.expr(0)?;
    if p.pos != p.toks.len() {
        return Err(format!("unexpected {:?}", p.toks[p.pos]));
    }
    Ok(ast)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

/// (operator, precedence); higher binds tighter.
fn binary_op(t: &Tok) -> Option<(BinOp, u8)> {
    Some(match t {
        Tok::Ident(s) => match s.as_str() {
            "implies" => (BinOp::Implies, 1),
            "or" => (BinOp::Or, 2),
            "xor" => (BinOp::Xor, 2),
            "and" => (BinOp::And, 3),
            "in" => (BinOp::In, 4),
            "contains" => (BinOp::Contains, 4),
            "div" => (BinOp::IntDiv, 10),
            "mod" => (BinOp::Mod, 10),
            _ => return None,
        },
        Tok::Sym(s) => match *s {
            "=" => (BinOp::Eq, 5),
            "!=" => (BinOp::Ne, 5),
            "~" => (BinOp::Equiv, 5),
            "!~" => (BinOp::NotEquiv, 5),
            "<" => (BinOp::Lt, 6),
            ">" => (BinOp::Gt, 6),
            "<=" => (BinOp::Le, 6),
            ">=" => (BinOp::Ge, 6),
            "|" => (BinOp::Union, 7),
            "+" => (BinOp::Add, 9),
            "-" => (BinOp::Sub, 9),
            "&" => (BinOp::Concat, 9),
            "*" => (BinOp::Mul, 10),
            "/" => (BinOp::Div, 10),
            _ => return None,
        },
        _ => return None,
    })
}

/// Precedence of `is` / `as` (between `|` and `+`).
const TYPE_PREC: u8 = 8;

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn eat_sym(&mut self, s: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Sym(x)) if *x == s) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_sym(&mut self, s: &str) -> Result<(), String> {
        if self.eat_sym(s) {
            Ok(())
        } else {
            Err(format!("expected '{s}', found {:?}", self.peek()))
        }
    }

    fn expr(&mut self, min_prec: u8) -> Result<Ast, String> {
        let mut lhs = self.unary()?;
        while let Some(t) = self.peek() {
            if let Tok::Ident(w) = t
                && (w == "is" || w == "as")
            {
                if TYPE_PREC < min_prec {
                    break;
                }
                let op = if w == "is" { TypeOp::Is } else { TypeOp::As };
                self.pos += 1;
                let ty = self.type_specifier()?;
                lhs = Ast::Type(op, Box::new(lhs), ty);
                continue;
            }
            let Some((op, prec)) = binary_op(t) else { break };
            if prec < min_prec {
                break;
            }
            self.pos += 1;
            let rhs = self.expr(prec + 1)?;
            lhs = Ast::Binary(op, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn type_specifier(&mut self) -> Result<Box<str>, String> {
        let mut name = self.identifier()?;
        while self.eat_sym(".") {
            name = self.identifier()?;
        }
        Ok(name.into())
    }

    fn identifier(&mut self) -> Result<String, String> {
        match self.toks.get(self.pos).cloned() {
            Some(Tok::Ident(s)) | Some(Tok::Quoted(s)) => {
                self.pos += 1;
                Ok(s)
            }
            other => Err(format!("expected an identifier, found {other:?}")),
        }
    }

    fn unary(&mut self) -> Result<Ast, String> {
        if self.eat_sym("-") {
            return match self.unary()? {
                Ast::Num(n) => Ok(Ast::Num(format!("-{n}").into())),
                _ => Err("unary minus is only supported on number literals".into()),
            };
        }
        if self.eat_sym("+") {
            return self.unary();
        }
        let mut term = self.term()?;
        loop {
            if self.eat_sym(".") {
                let name = self.identifier()?;
                if self.eat_sym("(") {
                    let args = self.args()?;
                    term = Ast::Call(Some(Box::new(term)), name.into(), args);
                } else {
                    term = Ast::Member(Box::new(term), name.into());
                }
            } else if self.eat_sym("[") {
                let idx = self.expr(0)?;
                self.expect_sym("]")?;
                term = Ast::Index(Box::new(term), Box::new(idx));
            } else {
                break;
            }
        }
        Ok(term)
    }

    fn args(&mut self) -> Result<Vec<Ast>, String> {
        let mut args = Vec::new();
        if self.eat_sym(")") {
            return Ok(args);
        }
        loop {
            args.push(self.expr(0)?);
            if self.eat_sym(")") {
                return Ok(args);
            }
            self.expect_sym(",")?;
        }
    }

    fn term(&mut self) -> Result<Ast, String> {
        let Some(t) = self.toks.get(self.pos).cloned() else {
            return Err("unexpected end of expression".into());
        };
        self.pos += 1;
        match t {
            Tok::Sym("(") => {
                let e = self.expr(0)?;
                self.expect_sym(")")?;
                Ok(e)
            }
            Tok::Sym("{") => {
                self.expect_sym("}")?;
                Ok(Ast::Empty)
            }
            Tok::Str(s) => Ok(Ast::Str(s.into())),
            Tok::Num(n) => Ok(Ast::Num(n.into())),
            Tok::This => Ok(Ast::This),
            Tok::Var(v) => Ok(Ast::Var(v.into())),
            Tok::Ident(s) if s == "true" => Ok(Ast::Bool(true)),
            Tok::Ident(s) if s == "false" => Ok(Ast::Bool(false)),
            Tok::Ident(s) | Tok::Quoted(s) => {
                if self.eat_sym("(") {
                    let args = self.args()?;
                    Ok(Ast::Call(None, s.into(), args))
                } else {
                    Ok(Ast::Ident(s.into()))
                }
            }
            other => Err(format!("unexpected {other:?}")),
        }
    }
}

/// Splits an expression at its top-level `|` operators (outside parentheses,
/// brackets and function arguments) when nothing binds looser than `|` at the
/// top level; returns the trimmed source of each operand.
pub(crate) fn split_union(src: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let mut in_str: Option<char> = None;
    let bytes: Vec<(usize, char)> = src.char_indices().collect();
    let mut i = 0;
    while i < bytes.len() {
        let (pos, c) = bytes[i];
        if let Some(q) = in_str {
            if c == '\\' {
                i += 1;
            } else if c == q {
                in_str = None;
            }
            i += 1;
            continue;
        }
        match c {
            '\'' | '`' => in_str = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            '|' if depth == 0 => {
                parts.push(src[start..pos].trim());
                start = pos + 1;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(src[start..].trim());
    // Only a plain union of operands may be split textually: every operand must
    // itself parse without a looser top-level operator (and/or/=...).
    if parts.len() > 1
        && parts.iter().any(|p| {
            !matches!(parse(p), Ok(ast) if !matches!(ast, Ast::Binary(op, ..) if (op as u8) < BinOp::Union as u8))
        })
    {
        return vec![src.trim()];
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_shapes() {
        let ast = parse("Observation.subject.where(resolve() is Patient)").unwrap();
        assert!(matches!(ast, Ast::Call(Some(_), ref f, _) if &**f == "where"));
        let ast = parse("(Observation.value as Quantity) | (Observation.value as SampledData)").unwrap();
        assert!(matches!(ast, Ast::Binary(BinOp::Union, ..)));
        let ast = parse("Patient.deceased.exists() and Patient.deceased != false").unwrap();
        assert!(matches!(ast, Ast::Binary(BinOp::And, ..)));
        let ast = parse("Bundle.entry[0].resource").unwrap();
        assert!(matches!(ast, Ast::Member(..)));
        let ast = parse("Patient.telecom.where(system='email')").unwrap();
        assert!(matches!(ast, Ast::Call(..)));
        assert!(parse("Patient.name.given[").is_err());
        assert!(parse("a.b 'x'").is_err());
    }

    #[test]
    fn is_binds_tighter_than_union_and_looser_than_dot() {
        let ast = parse("a.b as Quantity | c").unwrap();
        let Ast::Binary(BinOp::Union, lhs, _) = ast else {
            panic!()
        };
        assert!(matches!(*lhs, Ast::Type(TypeOp::As, ..)));
    }

    #[test]
    fn splits_top_level_unions_only() {
        assert_eq!(
            split_union("A.b | (A.c | A.d) | B.e"),
            vec!["A.b", "(A.c | A.d)", "B.e"]
        );
        assert_eq!(
            split_union("A.b.where(x='|') | B.c"),
            vec!["A.b.where(x='|')", "B.c"]
        );
        assert_eq!(split_union("A.b = 1 | 2"), vec!["A.b = 1 | 2"]);
        assert_eq!(
            split_union("Patient.deceased.exists() and Patient.deceased != false").len(),
            1
        );
    }
}
