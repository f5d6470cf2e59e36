//! Prints sandbox-service's seccomp allow-list as an OCI runtime-spec
//! `linux.seccomp` object, for bench/: crun gets the same filter (which it
//! compiles at each start, where sandbox-service loads a stored one).

fn main() {
    print!("{}", sandbox_service::export::seccomp_profile::json().expect("the profile"));
}
