//! `COPY --chmod=`: an octal mode (`0755`) or, as BuildKit takes it since
//! dockerfile 1.14, chmod(1)'s symbolic clauses (`u+x`, `g=r`, `a-w,o=`),
//! applied to each copied file's own mode.

/// A parsed `--chmod` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chmod {
    Octal(u32),
    Symbolic(Vec<Clause>),
}

/// One `WHO OP PERMS` clause: `who` and `perms` are mode bit masks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    who: u32,
    op: char,
    perms: Vec<Perm>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Perm {
    Bits(u32),
    /// `X`: execute only for a directory or a file someone may execute.
    CondExec,
    /// `u`, `g`, `o` on the right: copy that class's current bits.
    Copy(u32),
}

const USER: u32 = 0o4700;
const GROUP: u32 = 0o2070;
const OTHER: u32 = 0o1007;

impl Chmod {
    pub fn parse(spec: &str) -> Result<Chmod, String> {
        let bad = |why: &str| {
            format!("--chmod={spec}: {why} (use an octal mode like 0755 or clauses like u+x,g=r)")
        };
        if !spec.is_empty() && spec.bytes().all(|b| b.is_ascii_digit()) {
            return u32::from_str_radix(spec, 8)
                .ok()
                .filter(|m| *m <= 0o7777)
                .map(Chmod::Octal)
                .ok_or_else(|| bad("not an octal mode"));
        }
        let mut clauses = Vec::new();
        for text in spec.split(',') {
            let op_at = text
                .find(['+', '-', '='])
                .ok_or_else(|| bad("a clause needs +, - or ="))?;
            let mut who = 0;
            for c in text[..op_at].chars() {
                who |= match c {
                    'u' => USER,
                    'g' => GROUP,
                    'o' => OTHER,
                    'a' => USER | GROUP | OTHER,
                    _ => return Err(bad(&format!("unknown class {c:?}"))),
                };
            }
            if who == 0 {
                who = USER | GROUP | OTHER;
            }
            let op = text[op_at..].chars().next().expect("found above");
            let mut perms = Vec::new();
            for c in text[op_at + 1..].chars() {
                perms.push(match c {
                    'r' => Perm::Bits(0o444),
                    'w' => Perm::Bits(0o222),
                    'x' => Perm::Bits(0o111),
                    'X' => Perm::CondExec,
                    's' => Perm::Bits(0o6000),
                    't' => Perm::Bits(0o1000),
                    'u' => Perm::Copy(0o700),
                    'g' => Perm::Copy(0o070),
                    'o' => Perm::Copy(0o007),
                    _ => return Err(bad(&format!("unknown permission {c:?}"))),
                });
            }
            clauses.push(Clause { who, op, perms });
        }
        Ok(Chmod::Symbolic(clauses))
    }

    /// The mode a file with `mode` gets (permission bits only).
    pub fn apply(&self, mode: u32, is_dir: bool) -> u32 {
        let clauses = match self {
            Chmod::Octal(m) => return *m,
            Chmod::Symbolic(c) => c,
        };
        let mut mode = mode & 0o7777;
        for c in clauses {
            let mut bits = 0;
            for p in &c.perms {
                bits |= match *p {
                    Perm::Bits(b) => b,
                    Perm::CondExec if is_dir || mode & 0o111 != 0 => 0o111,
                    Perm::CondExec => 0,
                    // Spread one class's rwx to all three, masked by `who` below.
                    Perm::Copy(class) => {
                        let rwx = (mode & class) >> class.trailing_zeros();
                        rwx * 0o111
                    }
                };
            }
            let bits = bits & c.who;
            mode = match c.op {
                '+' => mode | bits,
                '-' => mode & !bits,
                _ => (mode & !(c.who & 0o7777)) | bits,
            };
        }
        mode
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(spec: &str, mode: u32) -> u32 {
        Chmod::parse(spec).unwrap().apply(mode, false)
    }

    #[test]
    fn octal_modes_replace_the_mode() {
        assert_eq!(Chmod::parse("0755").unwrap(), Chmod::Octal(0o755));
        assert_eq!(Chmod::parse("640").unwrap().apply(0o777, true), 0o640);
        assert!(Chmod::parse("0999").is_err());
        assert!(Chmod::parse("77777").is_err());
    }

    #[test]
    fn symbolic_clauses_change_the_files_own_mode() {
        assert_eq!(sym("u+x", 0o644), 0o744);
        assert_eq!(sym("g=r", 0o664), 0o644);
        assert_eq!(sym("a-w", 0o664), 0o444);
        assert_eq!(sym("+x", 0o600), 0o711);
        assert_eq!(sym("o=", 0o757), 0o750);
        assert_eq!(sym("u=rwx,g=rx,o=", 0o000), 0o750);
        assert_eq!(sym("go=u", 0o640), 0o666);
        assert_eq!(sym("u+s", 0o755), 0o4755);
        assert_eq!(sym("+t", 0o777), 0o1777);
    }

    #[test]
    fn capital_x_only_for_dirs_and_executables() {
        let x = Chmod::parse("a+X").unwrap();
        assert_eq!(x.apply(0o644, false), 0o644);
        assert_eq!(x.apply(0o744, false), 0o755);
        assert_eq!(x.apply(0o700, true), 0o711);
    }

    #[test]
    fn bad_clauses_name_the_flag() {
        for bad in ["u+q", "z+x", "rwx", ""] {
            let e = Chmod::parse(bad).unwrap_err();
            assert!(e.contains("--chmod="), "{e}");
        }
    }
}
