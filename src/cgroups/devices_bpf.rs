//! The devices cgroup on cgroup v2: an eBPF program of type
//! CGROUP_DEVICE attached to the container's cgroup, allowing exactly the
//! v1-style rules of [`super::devices`] (everything else denied), or an
//! OCI config's ordered allow and deny rules (the last that matches wins). The
//! program is built as data here (`program`, unit-tested by running it
//! through a small interpreter) and loaded by `attach`.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// One eBPF instruction, as the kernel lays out `struct bpf_insn`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    code: u8,
    /// dst in the low nibble, src in the high one.
    regs: u8,
    off: i16,
    imm: i32,
}

const LDX_W: u8 = 0x61; // dst = *(u32 *)(src + off)
const AND_K: u8 = 0x57;
const RSH_K: u8 = 0x77;
const MOV_K: u8 = 0xb7;
const MOV_X: u8 = 0xbf;
const JNE_K: u8 = 0x55;
const JEQ_K: u8 = 0x15;
const EXIT: u8 = 0x95;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: dst | (src << 4),
        off,
        imm,
    }
}

/// A rule: type (`None`: any), major/minor (`None`: `*`), access bits
/// (mknod 1, read 2, write 4, as `BPF_DEVCG_ACC_*`). An allow rule covers
/// a request whose bits are all its own; a deny rule one that asks for any
/// of its bits (v1's `devices.deny` takes those bits away).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub allow: bool,
    pub kind: Option<u32>,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u32,
}

/// `c 1:5 rwm`, `b *:* m`, `a` (v1's syntax), as an allow rule.
pub fn parse_rule(text: &str) -> Option<Rule> {
    let mut parts = text.split_whitespace();
    let kind = match parts.next()? {
        "a" => None,
        "b" => Some(1), // BPF_DEVCG_DEV_BLOCK
        "c" => Some(2), // BPF_DEVCG_DEV_CHAR
        _ => return None,
    };
    let (major, minor) = match parts.next() {
        Some(numbers) => {
            let (major, minor) = numbers.split_once(':')?;
            let num = |s: &str| {
                if s == "*" {
                    Ok(None)
                } else {
                    s.parse().map(Some)
                }
            };
            (num(major).ok()?, num(minor).ok()?)
        }
        None => (None, None),
    };
    let access = parts
        .next()
        .unwrap_or("rwm")
        .chars()
        .try_fold(0, |bits, c| {
            Some(
                bits | match c {
                    'm' => 1,
                    'r' => 2,
                    'w' => 4,
                    _ => return None,
                },
            )
        })?;
    Some(Rule {
        allow: true,
        kind,
        major,
        minor,
        access,
    })
}

/// Returns the verdict (1 allow, 0 deny) of the last rule that covers the
/// request, 0 if none does: v1's order, where a later write overrides an
/// earlier one. Registers: r2 type, r3 access, r4 major, r5 minor (from
/// `bpf_cgroup_dev_ctx`).
pub fn program(rules: &[Rule]) -> Vec<Insn> {
    let mut out = vec![
        insn(LDX_W, 2, 1, 0, 0),
        insn(AND_K, 2, 0, 0, 0xffff),
        insn(LDX_W, 3, 1, 0, 0),
        insn(RSH_K, 3, 0, 0, 16),
        insn(LDX_W, 4, 1, 4, 0),
        insn(LDX_W, 5, 1, 8, 0),
    ];
    for rule in rules.iter().rev() {
        let mut block = Vec::new();
        if let Some(kind) = rule.kind {
            block.push((insn(JNE_K, 2, 0, 0, kind as i32), true));
        }
        block.push((insn(MOV_X, 1, 3, 0, 0), false));
        if rule.allow {
            // Any access bit outside the rule's: not this rule.
            block.push((insn(AND_K, 1, 0, 0, !rule.access as i32), false));
            block.push((insn(JNE_K, 1, 0, 0, 0), true));
        } else {
            // None of the rule's bits asked for: not this rule.
            block.push((insn(AND_K, 1, 0, 0, rule.access as i32), false));
            block.push((insn(JEQ_K, 1, 0, 0, 0), true));
        }
        if let Some(major) = rule.major {
            block.push((insn(JNE_K, 4, 0, 0, major as i32), true));
        }
        if let Some(minor) = rule.minor {
            block.push((insn(JNE_K, 5, 0, 0, minor as i32), true));
        }
        block.push((insn(MOV_K, 0, 0, 0, rule.allow as i32), false));
        block.push((insn(EXIT, 0, 0, 0, 0), false));
        let len = block.len();
        for (i, (mut ins, jumps_out)) in block.into_iter().enumerate() {
            if jumps_out {
                ins.off = (len - i - 1) as i16; // to the next rule's first insn
            }
            out.push(ins);
        }
    }
    out.push(insn(MOV_K, 0, 0, 0, 0));
    out.push(insn(EXIT, 0, 0, 0, 0));
    out
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;

/// `union bpf_attr` for BPF_PROG_LOAD (the fields rcorch sets; the rest
/// must be zero, so the struct is padded to a size the kernel accepts).
#[repr(C)]
#[derive(Default)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    pad: [u64; 10],
}

#[repr(C)]
#[derive(Default)]
struct ProgAttach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    pad: [u64; 4],
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> std::io::Result<libc::c_long> {
    // SAFETY: attr is a live, zero-padded bpf_attr of the size we pass.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(r)
}

/// The program of `rules`, attached to the cgroup directory `dir` (native
/// containers and the OCI runtime on cgroup v2).
pub fn attach_rules(dir: &Path, rules: &[Rule]) -> Result<(), super::CgroupError> {
    attach(dir, &program(rules)).map_err(|source| super::CgroupError::Write {
        path: dir.to_path_buf(),
        value: "an eBPF device program (BPF_CGROUP_DEVICE)".into(),
        source,
    })
}

/// v1 rule texts with their verdicts, in order; Err names the first bad one.
pub fn ordered_rules<'a>(
    rules: impl IntoIterator<Item = (bool, &'a str)>,
) -> Result<Vec<Rule>, &'a str> {
    rules
        .into_iter()
        .map(|(allow, text)| parse_rule(text).map(|r| Rule { allow, ..r }).ok_or(text))
        .collect()
}

/// Loads `insns` and attaches them to the cgroup directory `dir`.
pub fn attach(dir: &Path, insns: &[Insn]) -> std::io::Result<()> {
    let license = b"Apache-2.0\0";
    let mut load = ProgLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        ..ProgLoad::default()
    };
    let prog = bpf(BPF_PROG_LOAD, &mut load)?;
    // SAFETY: the kernel just returned this fd for the program.
    let prog = unsafe { OwnedFd::from_raw_fd(prog as i32) };
    let cgroup = std::fs::File::open(dir)?;
    let mut attach = ProgAttach {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        // No flags: a restarted container's program replaces its last one
        // (with BPF_F_ALLOW_MULTI they would pile up and all apply).
        attach_flags: 0,
        ..ProgAttach::default()
    };
    bpf(BPF_PROG_ATTACH, &mut attach)?;
    Ok(()) // the attachment keeps the program once our fd closes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `prog` as the kernel would for (type, access, major, minor).
    fn run(prog: &[Insn], ctx: [u32; 3]) -> u64 {
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_W => {
                    let word = match i.off {
                        0 => ctx[0] | (ctx[1] << 16),
                        4 => ctx[2] >> 16,
                        _ => ctx[2] & 0xffff,
                    };
                    r[dst] = word as u64;
                }
                AND_K => r[dst] &= i.imm as i64 as u64,
                RSH_K => r[dst] >>= i.imm,
                MOV_K => r[dst] = i.imm as i64 as u64,
                MOV_X => r[dst] = r[src],
                JNE_K if r[dst] != i.imm as i64 as u64 => pc += i.off as usize,
                JNE_K => {}
                JEQ_K if r[dst] == i.imm as i64 as u64 => pc += i.off as usize,
                JEQ_K => {}
                EXIT => return r[0],
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
    }

    /// (type, access, major, minor) → ctx words: major and minor packed
    /// into the last one here only to keep the interpreter small.
    fn ask(prog: &[Insn], kind: u32, access: u32, major: u32, minor: u32) -> bool {
        run(prog, [kind, access, (major << 16) | minor]) == 1
    }

    #[test]
    fn rules_parse_from_v1_syntax() {
        let r = parse_rule("c 1:5 rw").unwrap();
        assert_eq!(
            (r.kind, r.major, r.minor, r.access),
            (Some(2), Some(1), Some(5), 6)
        );
        let r = parse_rule("b *:* m").unwrap();
        assert_eq!(
            (r.kind, r.major, r.minor, r.access),
            (Some(1), None, None, 1)
        );
        assert_eq!(parse_rule("a").unwrap().kind, None);
        assert!(parse_rule("c 1:5 x").is_none());
    }

    #[test]
    fn only_what_a_rule_covers_is_allowed() {
        let rules: Vec<Rule> = ["c *:* m", "c 1:3 rwm", "c 10:200 r"]
            .iter()
            .map(|r| parse_rule(r).unwrap())
            .collect();
        let p = program(&rules);
        assert!(ask(&p, 2, 2 | 4, 1, 3), "read-write /dev/null");
        assert!(ask(&p, 2, 1, 8, 0), "mknod of any char device");
        assert!(ask(&p, 2, 2, 10, 200), "read tun");
        assert!(!ask(&p, 2, 4, 10, 200), "write tun");
        assert!(!ask(&p, 2, 2, 1, 1), "read /dev/mem");
        assert!(!ask(&p, 1, 1, 8, 0), "mknod of a block device");
        assert!(!ask(&program(&[]), 2, 2, 1, 3), "no rules: nothing");
    }

    #[test]
    fn the_last_rule_that_matches_decides_and_a_deny_takes_its_bits_away() {
        let deny = |text: &str| Rule {
            allow: false,
            ..parse_rule(text).unwrap()
        };
        let rules = [
            deny("a"),
            parse_rule("c 1:11 rwm").unwrap(),
            deny("c 1:11 r"),
            parse_rule("c 1:3 rwm").unwrap(),
        ];
        let p = program(&rules);
        assert!(!ask(&p, 2, 2, 1, 11), "read of kmsg, denied after");
        assert!(
            !ask(&p, 2, 2 | 4, 1, 11),
            "read-write asks for the denied r"
        );
        assert!(ask(&p, 2, 4, 1, 11), "write of kmsg, still allowed");
        assert!(ask(&p, 2, 1, 1, 11), "mknod of kmsg, still allowed");
        assert!(ask(&p, 2, 2, 1, 3), "read /dev/null");
        assert!(!ask(&p, 2, 2, 1, 5), "read /dev/zero: the first deny");
        let all = program(&[deny("a"), parse_rule("a").unwrap()]);
        assert!(ask(&all, 1, 2, 8, 0), "allow a after deny a: everything");
    }
}
