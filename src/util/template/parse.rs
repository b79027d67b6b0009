//! Go template actions into a tree: text, pipelines, `if`/`else if`/`else`,
//! `range` (with `$v :=` or `$k, $v :=`) and `with`, each closed by `end`.

use super::lex::{Item, Tok};
use super::{funcs, Problem};

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Text(String),
    /// `{{pipeline}}`, or `{{$x := pipeline}}` (prints nothing).
    Action(Pipeline),
    If {
        cond: Pipeline,
        then: Vec<Node>,
        otherwise: Vec<Node>,
    },
    Range {
        over: Pipeline,
        body: Vec<Node>,
        otherwise: Vec<Node>,
    },
    With {
        value: Pipeline,
        body: Vec<Node>,
        otherwise: Vec<Node>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// `$x :=` / `$k, $v :=` (declare) or `$x =` (assign).
    pub vars: Vec<String>,
    pub assign: bool,
    pub commands: Vec<Vec<Arg>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Dot,
    /// `.A.B`, from dot.
    Fields(Vec<String>),
    /// `$name.A.B`; `$` is the data the template was run on.
    Var(String, Vec<String>),
    Func(String),
    Const(serde_json::Value),
    /// `(pipeline)` with an optional `.A.B` after it.
    Sub(Box<Pipeline>, Vec<String>),
}

fn error(message: impl Into<String>) -> Problem {
    Problem::Parse {
        message: message.into(),
    }
}

/// The tree of a whole template.
pub fn tree(items: Vec<Item>) -> Result<Vec<Node>, Problem> {
    let mut items = items.into_iter();
    let (nodes, stop) = list(&mut items)?;
    match stop {
        None => Ok(nodes),
        Some(Stop::End) => Err(error("unexpected {{end}}")),
        Some(Stop::Else(_)) => Err(error("unexpected {{else}}")),
    }
}

enum Stop {
    End,
    /// `{{else}}` (empty) or `{{else if …}}` (the tokens after `else`).
    Else(Vec<Tok>),
}

fn list(items: &mut impl Iterator<Item = Item>) -> Result<(Vec<Node>, Option<Stop>), Problem> {
    let mut nodes = Vec::new();
    while let Some(item) = items.next() {
        let toks = match item {
            Item::Text(t) => {
                nodes.push(Node::Text(t));
                continue;
            }
            Item::Action(toks) => toks,
        };
        let (keyword, rest) = match toks.split_first() {
            Some((Tok::Ident(k), rest)) => (k.as_str(), rest),
            None => return Err(error("missing value for command")),
            _ => ("", &toks[..]),
        };
        match keyword {
            "end" if rest.is_empty() => return Ok((nodes, Some(Stop::End))),
            "else" => return Ok((nodes, Some(Stop::Else(rest.to_vec())))),
            "if" | "range" | "with" => nodes.push(block(keyword, rest, items)?),
            "define" | "template" | "block" | "break" | "continue" => {
                return Err(error(format!(
                    "{{{{{keyword}}}}} is not supported by rcorch"
                )))
            }
            _ => nodes.push(Node::Action(pipeline(&toks)?)),
        }
    }
    Ok((nodes, None))
}

/// An `if`/`range`/`with` block, up to its `end`.
fn block(
    keyword: &str,
    toks: &[Tok],
    items: &mut impl Iterator<Item = Item>,
) -> Result<Node, Problem> {
    let head = pipeline(toks)?;
    let (body, stop) = list(items)?;
    let otherwise = match stop {
        None => {
            return Err(error(format!(
                "unexpected EOF: {{{{{keyword}}}}} has no {{{{end}}}}"
            )))
        }
        Some(Stop::End) => Vec::new(),
        Some(Stop::Else(rest)) if rest.is_empty() => match list(items)? {
            (nodes, Some(Stop::End)) => nodes,
            _ => {
                return Err(error(format!(
                    "{{{{{keyword}}}}} … {{{{else}}}} has no {{{{end}}}}"
                )))
            }
        },
        Some(Stop::Else(rest)) => match rest.split_first() {
            // `else if` is an `if` inside the else branch, sharing its `end`.
            Some((Tok::Ident(k), more)) if k == "if" || k == "with" => {
                vec![block(k, more, items)?]
            }
            _ => return Err(error("expected {{else}}, {{else if …}} or {{else with …}}")),
        },
    };
    Ok(match keyword {
        "if" => Node::If {
            cond: head,
            then: body,
            otherwise,
        },
        "range" => Node::Range {
            over: head,
            body,
            otherwise,
        },
        _ => Node::With {
            value: head,
            body,
            otherwise,
        },
    })
}

/// `[$a[, $b] :=] command | command …`
pub fn pipeline(toks: &[Tok]) -> Result<Pipeline, Problem> {
    let (vars, assign, rest) = declarations(toks);
    if rest.is_empty() {
        return Err(error("missing value for command"));
    }
    let mut commands = Vec::new();
    for command in split_top_level(rest, &Tok::Pipe) {
        if command.is_empty() {
            return Err(error("missing command in pipeline"));
        }
        commands.push(args(command)?);
    }
    Ok(Pipeline {
        vars,
        assign,
        commands,
    })
}

fn declarations(toks: &[Tok]) -> (Vec<String>, bool, &[Tok]) {
    let var = |t: &Tok| match t {
        Tok::Var { name, fields } if fields.is_empty() => Some(name.clone()),
        _ => None,
    };
    match toks {
        [a, Tok::Comma, b, Tok::Declare, rest @ ..] => match (var(a), var(b)) {
            (Some(a), Some(b)) => (vec![a, b], false, rest),
            _ => (Vec::new(), false, toks),
        },
        [a, op @ (Tok::Declare | Tok::Assign), rest @ ..] => match var(a) {
            Some(a) => (vec![a], matches!(op, Tok::Assign), rest),
            None => (Vec::new(), false, toks),
        },
        _ => (Vec::new(), false, toks),
    }
}

/// Splits at `sep` outside parentheses.
fn split_top_level<'t>(toks: &'t [Tok], sep: &Tok) -> Vec<&'t [Tok]> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0usize, 0);
    for (i, t) in toks.iter().enumerate() {
        match t {
            Tok::LParen => depth += 1,
            Tok::RParen => depth = depth.saturating_sub(1),
            t if t == sep && depth == 0 => {
                parts.push(&toks[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&toks[start..]);
    parts
}

fn args(toks: &[Tok]) -> Result<Vec<Arg>, Problem> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let arg = match &toks[i] {
            Tok::Dot => Arg::Dot,
            Tok::Fields { names, .. } => Arg::Fields(names.clone()),
            Tok::Var { name, fields } => Arg::Var(name.clone(), fields.clone()),
            Tok::Str(s) => Arg::Const(s.clone().into()),
            Tok::Num(n) => Arg::Const(serde_json::Value::Number(n.clone())),
            Tok::Ident(word) => match word.as_str() {
                "true" => Arg::Const(true.into()),
                "false" => Arg::Const(false.into()),
                "nil" => Arg::Const(serde_json::Value::Null),
                name if funcs::exists(name) => Arg::Func(name.to_string()),
                name => return Err(error(format!("function {name:?} not defined"))),
            },
            Tok::LParen => {
                let close = matching_paren(toks, i)?;
                let inner = pipeline(&toks[i + 1..close])?;
                i = close;
                let fields = match toks.get(i + 1) {
                    Some(Tok::Fields {
                        names,
                        attached: true,
                    }) => {
                        i += 1;
                        names.clone()
                    }
                    _ => Vec::new(),
                };
                Arg::Sub(Box::new(inner), fields)
            }
            other => return Err(error(format!("unexpected {other:?} in command"))),
        };
        out.push(arg);
        i += 1;
    }
    Ok(out)
}

fn matching_paren(toks: &[Tok], open: usize) -> Result<usize, Problem> {
    let mut depth = 0;
    for (i, t) in toks.iter().enumerate().skip(open) {
        match t {
            Tok::LParen => depth += 1,
            Tok::RParen => {
                depth -= 1;
                if depth == 0 {
                    return Ok(i);
                }
            }
            _ => {}
        }
    }
    Err(error("unclosed left paren"))
}
