//! The functions a template may call: Go's built-ins (`len`, `index`,
//! `eq`, `printf`, …) and Docker's (`json`, `join`, `split`, `upper`, …),
//! and how Go prints a value.

use serde_json::Value;

use super::Problem;

const NAMES: &[&str] = &[
    "and", "or", "not", "len", "index", "slice", "eq", "ne", "lt", "le", "gt", "ge", "print",
    "printf", "println", "json", "split", "join", "title", "lower", "upper", "pad", "truncate",
];

pub fn exists(name: &str) -> bool {
    NAMES.contains(&name)
}

fn problem(message: impl Into<String>) -> Problem {
    Problem::Exec {
        message: message.into(),
    }
}

/// Go's truth: false, 0, "", nil and empty lists and maps are false.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// `{{.X}}` as Go's fmt prints the decoded JSON: lists as `[a b]`, maps as
/// `map[k:v]` (keys sorted), a missing value as `<no value>`.
pub fn print(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".into(),
        other => print_inner(other),
    }
}

fn print_inner(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(print_inner).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            let pairs: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}:{}", print_inner(&o[k.as_str()])))
                .collect();
            format!("map[{}]", pairs.join(" "))
        }
    }
}

fn arity(name: &str, args: &[Value], n: usize) -> Result<(), Problem> {
    if args.len() == n {
        return Ok(());
    }
    Err(problem(format!(
        "wrong number of args for {name}: want {n} got {}",
        args.len()
    )))
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => print_inner(other),
    }
}

fn int(name: &str, v: &Value) -> Result<i64, Problem> {
    v.as_i64()
        .ok_or_else(|| problem(format!("{name}: expected an integer, got {}", text(v))))
}

pub fn call(name: &str, args: Vec<Value>) -> Result<Value, Problem> {
    let one = |args: &[Value]| arity(name, args, 1).map(|_| text(&args[0]));
    Ok(match name {
        "and" => args
            .iter()
            .find(|v| !truthy(v))
            .or(args.last())
            .cloned()
            .unwrap_or_default(),
        "or" => args
            .iter()
            .find(|v| truthy(v))
            .or(args.last())
            .cloned()
            .unwrap_or_default(),
        "not" => arity(name, &args, 1).map(|_| Value::Bool(!truthy(&args[0])))?,
        "len" => len(&args)?,
        "index" => index(&args)?,
        "slice" => slice(&args)?,
        "eq" => eq(&args)?.into(),
        "ne" => arity(name, &args, 2)
            .and_then(|_| eq(&args))
            .map(|e| !e)?
            .into(),
        "lt" | "le" | "gt" | "ge" => compare(name, &args)?.into(),
        "print" => sprint(&args).into(),
        "println" => {
            let words: Vec<String> = args.iter().map(text).collect();
            format!("{}\n", words.join(" ")).into()
        }
        "printf" => super::printf::printf(&args)?.into(),
        "json" => arity(name, &args, 1).map(|_| args[0].to_string())?.into(),
        "split" => {
            arity(name, &args, 2)?;
            let (whole, sep) = (text(&args[0]), text(&args[1]));
            Value::Array(whole.split(sep.as_str()).map(|p| p.into()).collect())
        }
        "join" => join(&args)?.into(),
        "title" => title(&one(&args)?).into(),
        "lower" => one(&args)?.to_lowercase().into(),
        "upper" => one(&args)?.to_uppercase().into(),
        "pad" => {
            arity(name, &args, 3)?;
            let (before, after) = (int(name, &args[1])?, int(name, &args[2])?);
            let spaces = |n: i64| " ".repeat(n.max(0) as usize);
            format!("{}{}{}", spaces(before), text(&args[0]), spaces(after)).into()
        }
        "truncate" => {
            arity(name, &args, 2)?;
            let n = int(name, &args[1])?.max(0) as usize;
            text(&args[0]).chars().take(n).collect::<String>().into()
        }
        other => return Err(problem(format!("function {other:?} not defined"))),
    })
}

/// Go's Sprint: a space between operands when neither is a string.
fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, v) in args.iter().enumerate() {
        if i > 0 && !args[i - 1].is_string() && !v.is_string() {
            out.push(' ');
        }
        out.push_str(&text(v));
    }
    out
}

fn len(args: &[Value]) -> Result<Value, Problem> {
    arity("len", args, 1)?;
    let n = match &args[0] {
        Value::String(s) => s.len(),
        Value::Array(a) => a.len(),
        Value::Object(o) => o.len(),
        other => return Err(problem(format!("len of {}", text(other)))),
    };
    Ok(n.into())
}

/// `index X K…`: a map's key (a missing key of a string map, such as
/// labels, is "" as in Docker's typed maps) or a list's position.
pub fn index(args: &[Value]) -> Result<Value, Problem> {
    let Some((first, keys)) = args.split_first() else {
        return Err(problem(
            "wrong number of args for index: want at least 1 got 0",
        ));
    };
    let mut v = first.clone();
    for key in keys {
        v = match (&v, key) {
            (Value::Object(o), k) => match o.get(&text(k)) {
                Some(found) => found.clone(),
                None if o.values().all(Value::is_string) => Value::String(String::new()),
                None => Value::Null,
            },
            (Value::Array(a), k) => {
                let i = int("index", k)?;
                a.get(i as usize).cloned().ok_or_else(|| {
                    problem(format!("error calling index: index out of range: {i}"))
                })?
            }
            (Value::Null, _) => return Err(problem("error calling index: index of untyped nil")),
            (other, _) => return Err(problem(format!("can't index item of type {}", kind(other)))),
        };
    }
    Ok(v)
}

fn slice(args: &[Value]) -> Result<Value, Problem> {
    let Some((first, bounds)) = args.split_first() else {
        return Err(problem("wrong number of args for slice"));
    };
    let bounds: Vec<usize> = bounds
        .iter()
        .map(|b| int("slice", b).map(|i| i.max(0) as usize))
        .collect::<Result<_, _>>()?;
    let cut = |len: usize| -> Result<(usize, usize), Problem> {
        let from = bounds.first().copied().unwrap_or(0);
        let to = bounds.get(1).copied().unwrap_or(len);
        if from > to || to > len {
            return Err(problem(format!(
                "error calling slice: index out of range: {to}"
            )));
        }
        Ok((from, to))
    };
    match first {
        Value::String(s) => cut(s.len()).and_then(|(a, b)| {
            s.get(a..b)
                .map(|t| Value::String(t.into()))
                .ok_or_else(|| problem("slice: not at a character boundary"))
        }),
        Value::Array(items) => cut(items.len()).map(|(a, b)| Value::Array(items[a..b].to_vec())),
        other => Err(problem(format!("can't slice item of type {}", kind(other)))),
    }
}

fn join(args: &[Value]) -> Result<String, Problem> {
    arity("join", args, 2)?;
    let sep = text(&args[1]);
    match &args[0] {
        Value::Array(items) => Ok(items.iter().map(text).collect::<Vec<_>>().join(&sep)),
        Value::Null => Ok(String::new()),
        other => Err(problem(format!(
            "join: expected a list, got {}",
            kind(other)
        ))),
    }
}

fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut at_start = true;
    for c in s.chars() {
        if at_start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        at_start = !c.is_alphanumeric() && c != '_' && c != '\'';
    }
    out
}

pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

fn same(a: &Value, b: &Value) -> Result<bool, Problem> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => Ok(x.as_f64() == y.as_f64()),
        (Value::Null, _) | (_, Value::Null) => Ok(a == b),
        (x, y) if kind(x) == kind(y) => Ok(x == y),
        (x, y) => Err(problem(format!(
            "error calling eq: incompatible types for comparison: {} and {}",
            kind(x),
            kind(y)
        ))),
    }
}

/// `eq A B C…`: A equals any of the others.
fn eq(args: &[Value]) -> Result<bool, Problem> {
    let Some((first, others)) = args.split_first().filter(|(_, o)| !o.is_empty()) else {
        return Err(problem("wrong number of args for eq: want at least 2"));
    };
    for other in others {
        if same(first, other)? {
            return Ok(true);
        }
    }
    Ok(false)
}

fn compare(name: &str, args: &[Value]) -> Result<bool, Problem> {
    arity(name, args, 2)?;
    let order = match (&args[0], &args[1]) {
        (Value::Number(a), Value::Number(b)) => a.as_f64().partial_cmp(&b.as_f64()),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (a, b) => {
            return Err(problem(format!(
                "error calling {name}: incompatible types for comparison: {} and {}",
                kind(a),
                kind(b)
            )))
        }
    };
    let order = order.ok_or_else(|| problem(format!("error calling {name}: not comparable")))?;
    Ok(match name {
        "lt" => order.is_lt(),
        "le" => order.is_le(),
        "gt" => order.is_gt(),
        _ => order.is_ge(),
    })
}
