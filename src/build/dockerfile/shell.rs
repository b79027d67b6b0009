//! Variable expansion and word splitting as the Dockerfile reference defines
//! them for ADD, COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER, VOLUME,
//! WORKDIR and ARG: `$V`, `${V}`, `${V:-w}`, `${V-w}`, `${V:+w}`, `${V+w}`,
//! `${V:?w}`, `${V#p}`/`${V%p}` (literal patterns), single and double quotes,
//! and the escape character. Pure: the variables arrive as a lookup.

use thiserror::Error;

/// An expansion the reference rejects.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ExpandError {
    #[error("missing '}}' in {word:?}")]
    Unterminated { word: String },
    #[error("unsupported modifier {modifier:?} in substitution {word:?}")]
    BadModifier { modifier: String, word: String },
    #[error("{name}: {message}")]
    Required { name: String, message: String },
    #[error("unterminated quote in {word:?}")]
    Quote { word: String },
}

/// What expansion read: the names it looked up and found unset.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Used {
    pub unset: Vec<String>,
}

/// The variables visible to an instruction.
pub trait Vars {
    fn get(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Vars for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// Expands one word (quotes removed, no splitting).
pub fn expand_word(
    word: &str,
    vars: &dyn Vars,
    escape: char,
    used: &mut Used,
) -> Result<String, ExpandError> {
    let mut lexer = Lexer::new(word, vars, escape, used);
    let words = lexer.run(false)?;
    Ok(words.into_iter().next().unwrap_or_default())
}

/// Expands and splits on unquoted whitespace (EXPOSE, VOLUME, COPY sources).
pub fn expand_words(
    text: &str,
    vars: &dyn Vars,
    escape: char,
    used: &mut Used,
) -> Result<Vec<String>, ExpandError> {
    Lexer::new(text, vars, escape, used).run(true)
}

/// Splits on unquoted whitespace keeping quotes and escapes as written
/// (how ENV and LABEL find their `key=value` pairs before expanding each).
pub fn split_raw(text: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    let mut in_word = false;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                cur.push(c);
            }
            Some('"') if c == escape => {
                cur.push(c);
                cur.extend(chars.next());
            }
            Some(_) => cur.push(c),
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            None => {
                in_word = true;
                cur.push(c);
                if c == escape {
                    cur.extend(chars.next());
                } else if c == '"' || c == '\'' {
                    quote = Some(c);
                }
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    vars: &'a dyn Vars,
    escape: char,
    used: &'a mut Used,
    word: &'a str,
}

impl<'a> Lexer<'a> {
    fn new(word: &'a str, vars: &'a dyn Vars, escape: char, used: &'a mut Used) -> Self {
        Lexer {
            chars: word.chars().collect(),
            pos: 0,
            vars,
            escape,
            used,
            word,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.pos += 1;
        c
    }

    /// Processes to the end, or to an unquoted `stop` when one is given.
    fn run(&mut self, split: bool) -> Result<Vec<String>, ExpandError> {
        let (words, _) = self.process(split, None)?;
        Ok(words)
    }

    fn process(
        &mut self,
        split: bool,
        stop: Option<char>,
    ) -> Result<(Vec<String>, bool), ExpandError> {
        let mut words = Vec::new();
        let mut cur = String::new();
        let mut in_word = false;
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                self.pos += 1;
                words.push(cur);
                return Ok((words, true));
            }
            if split && c.is_whitespace() {
                self.pos += 1;
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
                continue;
            }
            self.pos += 1;
            // An unset unquoted expansion makes no word of its own.
            in_word |= c != '$';
            if c == self.escape {
                match self.next() {
                    Some(n) => cur.push(n),
                    None => cur.push(c),
                }
            } else if c == '\'' {
                self.single_quoted(&mut cur)?;
            } else if c == '"' {
                self.double_quoted(&mut cur)?;
            } else if c == '$' {
                let value = self.dollar()?;
                in_word |= !value.trim().is_empty();
                if split && !value.is_empty() {
                    // Unquoted expansions split like the shell would.
                    let mut parts = value.split_whitespace().peekable();
                    if value.starts_with(char::is_whitespace) && !cur.is_empty() {
                        words.push(std::mem::take(&mut cur));
                    }
                    while let Some(p) = parts.next() {
                        cur.push_str(p);
                        if parts.peek().is_some() {
                            words.push(std::mem::take(&mut cur));
                        }
                    }
                    if value.ends_with(char::is_whitespace) {
                        words.push(std::mem::take(&mut cur));
                        in_word = false;
                    }
                } else {
                    cur.push_str(&value);
                }
            } else {
                cur.push(c);
            }
        }
        if stop.is_some() {
            return Err(ExpandError::Unterminated {
                word: self.word.to_string(),
            });
        }
        if in_word || !split {
            words.push(cur);
        }
        Ok((words, false))
    }

    fn single_quoted(&mut self, cur: &mut String) -> Result<(), ExpandError> {
        loop {
            match self.next() {
                Some('\'') => return Ok(()),
                Some(c) => cur.push(c),
                None => {
                    return Err(ExpandError::Quote {
                        word: self.word.to_string(),
                    })
                }
            }
        }
    }

    fn double_quoted(&mut self, cur: &mut String) -> Result<(), ExpandError> {
        loop {
            match self.next() {
                Some('"') => return Ok(()),
                Some('$') => {
                    let v = self.dollar()?;
                    cur.push_str(&v);
                }
                Some(c) if c == self.escape => match self.peek() {
                    Some(n) if n == '"' || n == '$' || n == self.escape => {
                        self.pos += 1;
                        cur.push(n);
                    }
                    _ => cur.push(c),
                },
                Some(c) => cur.push(c),
                None => {
                    return Err(ExpandError::Quote {
                        word: self.word.to_string(),
                    })
                }
            }
        }
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                name.push(c);
                self.pos += 1;
            } else {
                break;
            }
        }
        name
    }

    fn lookup(&mut self, name: &str) -> Option<String> {
        let v = self.vars.get(name);
        if v.is_none() && !self.used.unset.iter().any(|n| n == name) {
            self.used.unset.push(name.to_string());
        }
        v
    }

    /// After a `$`: a name, `${...}`, or a literal dollar.
    fn dollar(&mut self) -> Result<String, ExpandError> {
        match self.peek() {
            Some('{') => {
                self.pos += 1;
                self.braced()
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let name = self.name();
                Ok(self.lookup(&name).unwrap_or_default())
            }
            _ => Ok("$".to_string()),
        }
    }

    fn braced(&mut self) -> Result<String, ExpandError> {
        let name = self.name();
        let unterminated = || ExpandError::Unterminated {
            word: self.word.to_string(),
        };
        let Some(c) = self.next() else {
            return Err(unterminated());
        };
        if c == '}' {
            return Ok(self.lookup(&name).unwrap_or_default());
        }
        let mut modifier = c.to_string();
        if c == ':' || ((c == '#' || c == '%' || c == '/') && self.peek() == Some(c)) {
            modifier.extend(self.next());
        }
        let (mut words, _) = self.process(false, Some('}'))?;
        let word = words.pop().unwrap_or_default();
        let value = self.lookup(&name);
        let set = value.is_some();
        let nonempty = value.as_deref().is_some_and(|v| !v.is_empty());
        let value = value.unwrap_or_default();
        Ok(match modifier.as_str() {
            ":-" => {
                if nonempty {
                    value
                } else {
                    word
                }
            }
            "-" => {
                if set {
                    value
                } else {
                    word
                }
            }
            ":+" => {
                if nonempty {
                    word
                } else {
                    String::new()
                }
            }
            "+" => {
                if set {
                    word
                } else {
                    String::new()
                }
            }
            ":?" | "?" if (modifier == ":?" && !nonempty) || (modifier == "?" && !set) => {
                return Err(ExpandError::Required {
                    name,
                    message: if word.is_empty() {
                        "is not allowed to be unset".into()
                    } else {
                        word
                    },
                })
            }
            ":?" | "?" => value,
            "#" | "##" => value
                .strip_prefix(word.as_str())
                .map(str::to_string)
                .unwrap_or(value),
            "%" | "%%" => value
                .strip_suffix(word.as_str())
                .map(str::to_string)
                .unwrap_or(value),
            "/" | "//" => {
                let (pattern, replacement) = word.split_once('/').unwrap_or((word.as_str(), ""));
                match (pattern.is_empty(), modifier.as_str()) {
                    (true, _) => value,
                    (false, "/") => value.replacen(pattern, replacement, 1),
                    (false, _) => value.replace(pattern, replacement),
                }
            }
            _ => {
                return Err(ExpandError::BadModifier {
                    modifier,
                    word: self.word.to_string(),
                })
            }
        })
    }
}
