//! `printf` with the verbs scripts use: `%s %v %d %q %t %f %x %%`, with
//! `-`/`0` flags, a width and a precision.

use serde_json::Value;

use super::funcs::print;
use super::Problem;

pub fn printf(args: &[Value]) -> Result<String, Problem> {
    let Some((Value::String(format), values)) = args.split_first() else {
        return Err(Problem::Exec {
            message: "printf: the first argument must be a format string".into(),
        });
    };
    let mut values = values.iter();
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f @ ('-' | '0' | '+' | ' ')) = chars.peek() {
            spec.left |= f == '-';
            spec.zero |= f == '0';
            chars.next();
        }
        spec.width = digits(&mut chars);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.precision = Some(digits(&mut chars));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match values.next() {
            Some(v) => out.push_str(&spec.pad(verb_text(verb, v, spec.precision))),
            None => out.push_str(&format!("%!{verb}(MISSING)")),
        }
    }
    Ok(out)
}

#[derive(Default)]
struct Spec {
    left: bool,
    zero: bool,
    width: usize,
    precision: Option<usize>,
}

impl Spec {
    fn pad(&self, s: String) -> String {
        let len = s.chars().count();
        if len >= self.width {
            return s;
        }
        let fill = self.width - len;
        if self.left {
            format!("{s}{}", " ".repeat(fill))
        } else if self.zero {
            format!("{}{s}", "0".repeat(fill))
        } else {
            format!("{}{s}", " ".repeat(fill))
        }
    }
}

fn digits(chars: &mut std::iter::Peekable<std::str::Chars>) -> usize {
    let mut n = 0;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        n = n * 10 + d as usize;
        chars.next();
    }
    n
}

fn verb_text(verb: char, v: &Value, precision: Option<usize>) -> String {
    let plain = match v {
        Value::String(s) => s.clone(),
        other => print(other),
    };
    match (verb, v) {
        ('s' | 'v', _) => match precision {
            Some(p) if v.is_string() => plain.chars().take(p).collect(),
            _ => plain,
        },
        ('q', _) => Value::String(plain).to_string(),
        ('d', Value::Number(n)) => n
            .as_i64()
            .map_or_else(|| format!("%!d({plain})"), |i| i.to_string()),
        ('f', Value::Number(n)) => {
            format!("{:.*}", precision.unwrap_or(6), n.as_f64().unwrap_or(0.0))
        }
        ('x', Value::Number(n)) => n
            .as_i64()
            .map_or_else(|| format!("%!x({plain})"), |i| format!("{i:x}")),
        ('x', Value::String(s)) => s.bytes().map(|b| format!("{b:02x}")).collect(),
        ('t', Value::Bool(b)) => b.to_string(),
        (verb, _) => format!("%!{verb}({plain})"),
    }
}
