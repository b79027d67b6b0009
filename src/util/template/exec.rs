//! Runs a parsed template over a JSON value: fields are keys (a missing key
//! is an error, as `docker inspect` makes it), `range` walks lists and maps
//! (keys sorted, as Go does), variables live until their block ends.

use serde_json::Value;

use super::funcs::{self, print, truthy};
use super::parse::{Arg, Node, Pipeline};
use super::Problem;

pub struct Exec<'a> {
    root: &'a Value,
    vars: Vec<(String, Value)>,
}

fn problem(message: impl Into<String>) -> Problem {
    Problem::Exec {
        message: message.into(),
    }
}

impl<'a> Exec<'a> {
    pub fn new(root: &'a Value) -> Exec<'a> {
        Exec {
            root,
            vars: Vec::new(),
        }
    }

    pub fn nodes(&mut self, nodes: &[Node], dot: &Value, out: &mut String) -> Result<(), Problem> {
        let scope = self.vars.len();
        for node in nodes {
            self.node(node, dot, out)?;
        }
        self.vars.truncate(scope);
        Ok(())
    }

    fn node(&mut self, node: &Node, dot: &Value, out: &mut String) -> Result<(), Problem> {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Action(p) => {
                let v = self.pipeline(p, dot)?;
                if p.vars.is_empty() {
                    out.push_str(&print(&v));
                }
            }
            Node::If {
                cond,
                then,
                otherwise,
            } => {
                let v = self.pipeline(cond, dot)?;
                let branch = if truthy(&v) { then } else { otherwise };
                self.nodes(branch, dot, out)?;
            }
            Node::With {
                value,
                body,
                otherwise,
            } => {
                let v = self.pipeline(value, dot)?;
                if truthy(&v) {
                    self.nodes(body, &v, out)?;
                } else {
                    self.nodes(otherwise, dot, out)?;
                }
            }
            Node::Range {
                over,
                body,
                otherwise,
            } => self.range(over, body, otherwise, dot, out)?,
        }
        Ok(())
    }

    fn range(
        &mut self,
        over: &Pipeline,
        body: &[Node],
        otherwise: &[Node],
        dot: &Value,
        out: &mut String,
    ) -> Result<(), Problem> {
        let bare = Pipeline {
            vars: Vec::new(),
            ..over.clone()
        };
        let items: Vec<(Value, Value)> = match self.pipeline(&bare, dot)? {
            Value::Array(a) => a
                .into_iter()
                .enumerate()
                .map(|(i, v)| (i.into(), v))
                .collect(),
            Value::Object(o) => {
                let mut pairs: Vec<(String, Value)> = o.into_iter().collect();
                pairs.sort_by(|a, b| a.0.cmp(&b.0));
                pairs.into_iter().map(|(k, v)| (k.into(), v)).collect()
            }
            Value::Null => Vec::new(),
            other => {
                return Err(problem(format!(
                    "range can't iterate over {}",
                    print(&other)
                )))
            }
        };
        if items.is_empty() {
            return self.nodes(otherwise, dot, out);
        }
        for (key, value) in items {
            let scope = self.vars.len();
            match over.vars.as_slice() {
                [v] => self.vars.push((v.clone(), value.clone())),
                [k, v] => {
                    self.vars.push((k.clone(), key));
                    self.vars.push((v.clone(), value.clone()));
                }
                _ => {}
            }
            self.nodes(body, &value, out)?;
            self.vars.truncate(scope);
        }
        Ok(())
    }

    fn pipeline(&mut self, p: &Pipeline, dot: &Value) -> Result<Value, Problem> {
        let mut piped = None;
        for command in &p.commands {
            piped = Some(self.command(command, dot, piped)?);
        }
        let value = piped.unwrap_or_default();
        if let Some(name) = p.vars.first() {
            if p.assign {
                let slot = self.vars.iter_mut().rev().find(|(n, _)| n == name);
                let slot = slot.ok_or_else(|| problem(format!("undefined variable: ${name}")))?;
                slot.1 = value.clone();
            } else {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn command(
        &mut self,
        args: &[Arg],
        dot: &Value,
        piped: Option<Value>,
    ) -> Result<Value, Problem> {
        let (first, rest) = args.split_first().ok_or_else(|| problem("empty command"))?;
        match first {
            Arg::Func(name) => {
                let mut values = rest
                    .iter()
                    .map(|a| self.operand(a, dot))
                    .collect::<Result<Vec<_>, _>>()?;
                values.extend(piped);
                funcs::call(name, values)
            }
            // `.Label "key"`: Docker's methods with an argument read a map.
            Arg::Fields(names) if !rest.is_empty() || piped.is_some() => {
                let map = field_chain(dot, names)?;
                let mut keys = rest
                    .iter()
                    .map(|a| self.operand(a, dot))
                    .collect::<Result<Vec<_>, _>>()?;
                keys.extend(piped);
                if !map.is_object() {
                    return Err(problem(format!(
                        "can't give argument to non-function .{}",
                        names.join(".")
                    )));
                }
                funcs::index(&[vec![map], keys].concat())
            }
            _ if !rest.is_empty() || piped.is_some() => Err(problem(
                "can't give argument to non-function: only functions take arguments",
            )),
            operand => self.operand(operand, dot),
        }
    }

    fn operand(&mut self, arg: &Arg, dot: &Value) -> Result<Value, Problem> {
        match arg {
            Arg::Dot => Ok(dot.clone()),
            Arg::Fields(names) => field_chain(dot, names),
            Arg::Var(name, fields) => {
                let value = if name.is_empty() {
                    self.root.clone()
                } else {
                    let found = self.vars.iter().rev().find(|(n, _)| n == name);
                    found
                        .map(|(_, v)| v.clone())
                        .ok_or_else(|| problem(format!("undefined variable: ${name}")))?
                };
                field_chain(&value, fields)
            }
            Arg::Const(v) => Ok(v.clone()),
            Arg::Func(name) => funcs::call(name, Vec::new()),
            Arg::Sub(p, fields) => {
                let v = self.pipeline(p, dot)?;
                field_chain(&v, fields)
            }
        }
    }
}

fn field_chain(value: &Value, names: &[String]) -> Result<Value, Problem> {
    let mut v = value;
    for name in names {
        v = match v {
            Value::Object(o) => o.get(name).ok_or_else(|| {
                let mut known: Vec<&str> = o.keys().map(String::as_str).collect();
                known.sort();
                Problem::UnknownField {
                    field: name.clone(),
                    known: known.join(", "),
                }
            })?,
            Value::Null => return Err(problem(format!("nil pointer evaluating .{name}"))),
            other => {
                return Err(problem(format!(
                    "can't evaluate field {name} in type {}",
                    funcs::kind(other)
                )))
            }
        };
    }
    Ok(v.clone())
}
