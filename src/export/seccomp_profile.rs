//! The sandbox's seccomp filter as an OCI `linux.seccomp` profile, from
//! the same rules the BPF is compiled from (runtime::seccomp::rules): the
//! profile podman, crun and Kubernetes load is the sandbox's filter, not
//! a second list to keep in step.

use crate::runtime::seccomp::{rules, ArgTest, Verdict, DEFAULT_ERRNO};
use anyhow::Result;
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArgBuilder, LinuxSeccompBuilder, LinuxSeccompOperator,
    LinuxSyscallBuilder,
};

pub fn profile() -> Result<LinuxSeccomp> {
    let mut syscalls = Vec::new();
    for r in rules() {
        let mut b = LinuxSyscallBuilder::default().names(r.names.iter().map(|n| n.to_string()).collect::<Vec<_>>());
        b = match r.verdict {
            Verdict::Allow => b.action(LinuxSeccompAction::ScmpActAllow),
            Verdict::Errno(e) => b.action(LinuxSeccompAction::ScmpActErrno).errno_ret(e as u32),
        };
        if let Some(t) = r.arg0 {
            let (op, value, two) = match t {
                ArgTest::MaskedEq { mask, value } => (LinuxSeccompOperator::ScmpCmpMaskedEq, mask, Some(value)),
                ArgTest::Eq(v) => (LinuxSeccompOperator::ScmpCmpEq, v, None),
                ArgTest::Ne(v) => (LinuxSeccompOperator::ScmpCmpNe, v, None),
            };
            let mut a = LinuxSeccompArgBuilder::default().index(0usize).value(value).op(op);
            if let Some(v2) = two {
                a = a.value_two(v2);
            }
            b = b.args(vec![a.build()?]);
        }
        syscalls.push(b.build()?);
    }
    let arches = if cfg!(target_arch = "x86_64") {
        vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32]
    } else {
        Vec::new()
    };
    let mut p = LinuxSeccompBuilder::default()
        .default_action(LinuxSeccompAction::ScmpActErrno)
        .default_errno_ret(DEFAULT_ERRNO as u32)
        .syscalls(syscalls);
    if !arches.is_empty() {
        p = p.architectures(arches);
    }
    Ok(p.build()?)
}

/// The profile as the JSON file podman (`--security-opt seccomp=FILE`) and
/// the kubelet (Localhost profiles) read.
pub fn json() -> Result<String> {
    Ok(serde_json::to_string_pretty(&profile()?)? + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_and_name_is_in_the_profile() {
        let p = profile().unwrap();
        let calls = p.syscalls().as_ref().unwrap();
        assert_eq!(calls.len(), rules().len());
        let allowed: Vec<&String> = calls[0].names().iter().collect();
        assert_eq!(allowed.len(), crate::runtime::seccomp::ALLOWED.len());
        let text = json().unwrap();
        assert!(text.contains("\"defaultAction\": \"SCMP_ACT_ERRNO\""), "{text}");
        assert!(!text.contains("\"mount\""), "mount is not allowed in the sandbox");
        // clone only without namespace flags: MASKED_EQ(flags) == 0.
        let clone = calls.iter().find(|c| c.names() == &vec!["clone".to_string()]).unwrap();
        let a = clone.args().as_ref().unwrap()[0];
        assert_eq!((a.value(), a.value_two()), (crate::runtime::seccomp::CLONE_NEW_ANY, Some(0)));
    }
}
