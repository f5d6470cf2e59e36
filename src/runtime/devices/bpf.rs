//! A cgroup v2 device filter: a BPF_PROG_TYPE_CGROUP_DEVICE program that
//! allows exactly the rules and denies the rest, attached with
//! BPF_F_ALLOW_MULTI so it stacks with systemd's own (every program must
//! allow an access). The program is a dozen instructions a rule; no
//! helper is called, so it needs no verifier-specific license.

use super::{Rule, Type};
use anyhow::{Context, Result};
use nix::libc;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// One eBPF instruction, as `struct bpf_insn` lays it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

// Opcodes: class | op | source.
const LDX_MEM_W: u8 = 0x61;
const ALU64_MOV_X: u8 = 0xbf;
const ALU64_MOV_K: u8 = 0xb7;
const ALU64_AND_K: u8 = 0x57;
const ALU64_RSH_K: u8 = 0x77;
const JMP_JNE_K: u8 = 0x55;
const JMP_EXIT: u8 = 0x95;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn { code, regs: (src << 4) | dst, off, imm }
}

/// The kernel's encoding of the device type (BPF_DEVCG_DEV_*).
fn type_code(t: Type) -> i32 {
    match t {
        Type::Block => 1,
        Type::Char => 2,
    }
}

/// The program: with the context `struct bpf_cgroup_dev_ctx { u32
/// access_type /* access << 16 | type */; u32 major; u32 minor; }` in r1,
/// return 1 for the first rule that matches the type, the major, the minor
/// (unless any) and holds every requested access bit; 0 otherwise.
pub fn program(rules: &[Rule]) -> Vec<Insn> {
    let mut p = vec![
        insn(LDX_MEM_W, 2, 1, 0, 0), // r2 = access_type
        insn(ALU64_MOV_X, 3, 2, 0, 0),
        insn(ALU64_AND_K, 3, 0, 0, 0xffff), // r3 = type
        insn(ALU64_MOV_X, 4, 2, 0, 0),
        insn(ALU64_RSH_K, 4, 0, 0, 16), // r4 = access
        insn(LDX_MEM_W, 5, 1, 4, 0),    // r5 = major
        insn(LDX_MEM_W, 6, 1, 8, 0),    // r6 = minor
    ];
    for r in rules {
        // Each test jumps over the rest of this rule's block when it fails.
        let mut block = vec![
            insn(JMP_JNE_K, 3, 0, 0, type_code(r.kind)),
            insn(ALU64_MOV_X, 7, 4, 0, 0),
            insn(ALU64_AND_K, 7, 0, 0, !(r.access as i32)),
            insn(JMP_JNE_K, 7, 0, 0, 0),
            insn(JMP_JNE_K, 5, 0, 0, r.major as i32),
        ];
        if let Some(m) = r.minor {
            block.push(insn(JMP_JNE_K, 6, 0, 0, m as i32));
        }
        block.push(insn(ALU64_MOV_K, 0, 0, 0, 1));
        block.push(insn(JMP_EXIT, 0, 0, 0, 0));
        let len = block.len();
        for (i, b) in block.iter_mut().enumerate() {
            if b.code == JMP_JNE_K {
                b.off = (len - i - 1) as i16;
            }
        }
        p.extend(block);
    }
    p.push(insn(ALU64_MOV_K, 0, 0, 0, 0));
    p.push(insn(JMP_EXIT, 0, 0, 0, 0));
    p
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The part of `union bpf_attr` that BPF_PROG_LOAD reads.
#[repr(C)]
#[derive(Default)]
struct LoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The part BPF_PROG_ATTACH and BPF_PROG_DETACH read.
#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

fn bpf<T>(cmd: libc::c_long, attr: &T) -> std::io::Result<i64> {
    // SAFETY: attr is a properly laid out prefix of union bpf_attr that
    // outlives the call; the kernel reads size bytes of it.
    let rc = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *const T, std::mem::size_of::<T>()) };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// Loads the program; only when the kernel refuses it is it loaded again
/// with the verifier's log, which fails with ENOSPC when the log outgrows
/// its buffer even for a good program.
fn load(prog: &[Insn]) -> Result<OwnedFd> {
    let mut name = [0u8; 16];
    name[..9].copy_from_slice(b"sbx_devcg");
    let mut attr = LoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: prog.len() as u32,
        insns: prog.as_ptr() as u64,
        license: c"GPL".as_ptr() as u64,
        prog_name: name,
        expected_attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    let e = match bpf(BPF_PROG_LOAD, &attr) {
        // SAFETY: the kernel returned a new fd for the program.
        Ok(fd) => return Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) }),
        Err(e) => e,
    };
    let mut log = vec![0u8; 1 << 16];
    attr.log_level = 1;
    attr.log_size = log.len() as u32;
    attr.log_buf = log.as_mut_ptr() as u64;
    let _ = bpf(BPF_PROG_LOAD, &attr).map(|fd| {
        // SAFETY: a second load that worked: close its fd.
        drop(unsafe { OwnedFd::from_raw_fd(fd as i32) })
    });
    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
    let verifier = String::from_utf8_lossy(&log[..end]);
    let last = verifier.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no log");
    Err(e).with_context(|| format!("loading the device filter (verifier: {last})"))
}

/// A program attached to a cgroup, detached by `detach` (or with the
/// cgroup when it is removed).
pub struct Attached {
    cgroup: OwnedFd,
    prog: OwnedFd,
}

pub fn attach(dir: &Path, rules: &[Rule]) -> Result<Attached> {
    let prog = load(&program(rules))?;
    let cgroup = nix::fcntl::open(
        dir,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .with_context(|| format!("opening cgroup {}", dir.display()))?;
    let attr = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..Default::default()
    };
    bpf(BPF_PROG_ATTACH, &attr).with_context(|| format!("attaching the device filter to {}", dir.display()))?;
    Ok(Attached { cgroup, prog })
}

impl Attached {
    pub fn detach(self) {
        let attr = AttachAttr {
            target_fd: self.cgroup.as_raw_fd() as u32,
            attach_bpf_fd: self.prog.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            ..Default::default()
        };
        if let Err(e) = bpf(BPF_PROG_DETACH, &attr) {
            tracing::warn!("detaching the device filter: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{allowed, MKNOD, READ, WRITE};
    use super::*;

    /// A test double for the kernel: runs the few opcodes `program` emits.
    fn run(p: &[Insn], kind: Type, major: u32, minor: u32, access: u32) -> u64 {
        let ctx = [(access << 16) | type_code(kind) as u32, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_MEM_W => r[dst] = ctx[i.off as usize / 4] as u64,
                ALU64_MOV_X => r[dst] = r[src],
                ALU64_MOV_K => r[dst] = i.imm as i64 as u64,
                ALU64_AND_K => r[dst] &= i.imm as i64 as u64,
                ALU64_RSH_K => r[dst] >>= i.imm,
                JMP_JNE_K => {
                    if r[dst] != i.imm as i64 as u64 {
                        pc = (pc as i64 + i.off as i64) as usize;
                    }
                }
                JMP_EXIT => return r[0],
                c => panic!("opcode {c:#x} not emulated"),
            }
        }
    }

    #[test]
    fn allows_exactly_the_rules() {
        let p = program(&allowed(&[136, 137]));
        assert_eq!(run(&p, Type::Char, 1, 3, READ | WRITE), 1, "/dev/null");
        assert_eq!(run(&p, Type::Char, 1, 9, READ), 1, "/dev/urandom");
        assert_eq!(run(&p, Type::Char, 137, 40, READ | WRITE), 1, "a pts");
        assert_eq!(run(&p, Type::Char, 1, 3, MKNOD), 0, "no mknod, even of null");
        assert_eq!(run(&p, Type::Char, 1, 1, READ), 0, "/dev/mem");
        assert_eq!(run(&p, Type::Char, 7, 0, READ), 0, "vcs");
        assert_eq!(run(&p, Type::Char, 10, 232, READ | WRITE), 0, "kvm");
        assert_eq!(run(&p, Type::Block, 1, 3, READ), 0, "a block device with null's numbers");
        assert_eq!(run(&p, Type::Block, 8, 0, READ | WRITE), 0, "a disk");
        assert_eq!(run(&p, Type::Char, 138, 0, READ), 0, "a major that is not pts");
        assert_eq!(std::mem::size_of::<Insn>(), 8);
    }
}
