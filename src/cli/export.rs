//! `sandbox-service export NAME --oci-bundle DIR | --oci-image FILE.tar
//! [--tag NAME:TAG] [--load] | --kube FILE.yaml`: the sandbox for an
//! existing engine (src/export). All or nothing: everything is written
//! beside its target under a temporary name and renamed into place last;
//! an error or an interrupt leaves no target behind.

use crate::export::{self, bundle, image, kube, seccomp_profile, stage};
use crate::layout::Layout;
use crate::{config, interrupt, sandbox, state};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// Write a sandbox as an OCI bundle, an OCI image or a Kubernetes Pod.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  sandbox-service export web1 --oci-bundle /srv/bundles/web1\n  \
    sandbox-service export web1 --oci-image web1.tar --tag localhost/web1:1 --kube web1.yaml\n  \
    sandbox-service export web1 --explain")]
pub struct Args {
    /// The sandbox's name.
    #[arg(add = clap_complete::engine::ArgValueCandidates::new(super::complete::names))]
    pub name: String,
    /// An OCI runtime bundle (config.json and rootfs/) for crun, runc or youki.
    #[arg(long, value_name = "DIR")]
    pub oci_bundle: Option<PathBuf>,
    /// An OCI image archive for podman load or skopeo copy oci-archive:FILE.
    #[arg(long, value_name = "FILE.tar")]
    pub oci_image: Option<PathBuf>,
    /// The image's name in the archive and the Pod [default: localhost/NAME:latest].
    #[arg(long, value_name = "NAME:TAG")]
    pub tag: Option<String>,
    /// After writing the image, podman load it.
    #[arg(long, requires = "oci_image")]
    pub load: bool,
    /// A Kubernetes Pod and PersistentVolumeClaim (podman kube play, kubectl apply).
    #[arg(long, value_name = "FILE.yaml")]
    pub kube: Option<PathBuf>,
    /// Print what would be exported and what does not travel; write nothing.
    #[arg(long)]
    pub explain: bool,
    /// With --explain: the plan as JSON.
    #[arg(long, requires = "explain")]
    pub json: bool,
}

fn refuse_existing(p: &Path) -> Result<()> {
    if p.symlink_metadata().is_ok() {
        bail!("{} exists: remove it or give another path (export never writes over a file)", p.display());
    }
    let parent = parent_of(p);
    if !parent.is_dir() {
        bail!("{}: its directory {} does not exist: create it first", p.display(), parent.display());
    }
    Ok(())
}

fn parent_of(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Finds `prog` on PATH.
fn on_path(prog: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(prog)).find(|c| c.is_file()))
        .unwrap_or(None)
}

/// The seccomp profile beside a written file, as NAME.seccomp.json; one
/// already there with the same rules is kept.
fn write_profile(dir: &Path, plan: &export::ExportPlan) -> Result<PathBuf> {
    let path = dir.join(kube::profile_name(plan));
    let text = seccomp_profile::json()?;
    if let Ok(old) = std::fs::read_to_string(&path) {
        if old == text {
            return Ok(path);
        }
        bail!("{} exists with other rules: remove it or export elsewhere", path.display());
    }
    write_new(&path, text.as_bytes())?;
    Ok(path)
}

/// Writes `data` to `path`, which must not exist: a synced temporary file
/// beside it, renamed without replacing anything.
fn write_new(path: &Path, data: &[u8]) -> Result<()> {
    let dir = parent_of(path);
    let mut tmp = tempfile::NamedTempFile::new_in(&dir).with_context(|| format!("writing in {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, data)?;
    tmp.as_file().sync_all()?;
    tmp.persist_noclobber(path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

pub fn run(layout: &Layout, a: Args) -> Result<()> {
    let cfg = config::load_named(layout, &a.name)?;
    if a.oci_bundle.is_none() && a.oci_image.is_none() && a.kube.is_none() && !a.explain {
        bail!("export {}: say what to write: --oci-bundle DIR, --oci-image FILE.tar or --kube FILE.yaml", cfg.name);
    }
    for p in [&a.oci_bundle, &a.oci_image, &a.kube].into_iter().flatten() {
        refuse_existing(p)?;
    }
    if a.load && on_path("podman").is_none() {
        bail!(
            "--load: podman is not installed (apt install podman): install it, or load {} with another engine \
             (skopeo copy oci-archive:FILE containers-storage:NAME)",
            a.oci_image.as_deref().unwrap_or(Path::new("FILE")).display()
        );
    }
    let plan = export::plan(layout, &cfg)?;
    if a.explain {
        if a.json {
            println!("{}", serde_json::to_string_pretty(&plan)?);
        } else {
            print!("{}", plan.explain());
        }
        return Ok(());
    }
    interrupt::install()?;
    let _lock = state::lock(layout)?;
    // Its /var is copied: a running service would be writing it.
    let _stopped = sandbox::hold_stopped(layout, &cfg, "exported")?;
    print!("{}", plan.explain());

    // Staged beside the bundle (renamed into place), else beside the image.
    let first = a.oci_bundle.as_ref().or(a.oci_image.as_ref()).or(a.kube.as_ref()).expect("a target");
    let staged = tempfile::Builder::new()
        .prefix(".sandbox-service-export-")
        .tempdir_in(parent_of(first))
        .with_context(|| format!("a staging directory in {}", parent_of(first).display()))?;
    let written = stage::write(layout, &plan, staged.path())?;
    interrupt::check()?;
    let tag = a.tag.clone().unwrap_or_else(|| image::default_tag(&plan));
    let mut done: Vec<String> = Vec::new();
    let mut image_done = None;
    if let Some(out) = &a.oci_image {
        let dir = parent_of(out);
        let mut tmp = tempfile::NamedTempFile::new_in(&dir).with_context(|| format!("writing in {}", dir.display()))?;
        let info = image::write(&plan, staged.path(), &tag, tmp.as_file_mut())?;
        interrupt::check()?;
        let profile = write_profile(&dir, &plan)?;
        tmp.persist_noclobber(out).with_context(|| format!("writing {}", out.display()))?;
        done.push(format!(
            "image {} ({}, {} bytes; layers {}) in {}; seccomp profile {}",
            info.tag,
            info.manifest_digest,
            info.size,
            info.layers.iter().map(|(d, s)| format!("sha256:{d} {s} bytes")).collect::<Vec<_>>().join(", "),
            out.display(),
            profile.display()
        ));
        image_done = Some((info, profile));
    }
    if let Some(out) = &a.kube {
        let dir = parent_of(out);
        let text = kube::yaml(&plan, &tag)?;
        write_profile(&dir, &plan)?;
        write_new(out, text.as_bytes())?;
        done.push(format!(
            "Pod {} in {}: podman kube play --seccomp-profile-root {} {}",
            plan.name,
            out.display(),
            dir.display(),
            out.display()
        ));
    }
    if let Some(out) = &a.oci_bundle {
        if let Some(base) = plan.user_namespace {
            // The sandbox's ids in its user namespace, as its tree has them.
            stage::shift_owners(&staged.path().join(stage::ROOTFS), base)?;
        }
        let spec = bundle::spec(&plan)?;
        let cfg_path = staged.path().join("config.json");
        std::fs::write(&cfg_path, serde_json::to_string_pretty(&spec)? + "\n")
            .with_context(|| format!("writing {}", cfg_path.display()))?;
        interrupt::check()?;
        let staged = staged.keep();
        if let Err(e) = std::fs::rename(&staged, out) {
            let _ = std::fs::remove_dir_all(&staged);
            return Err(e).with_context(|| format!("renaming the bundle into {}", out.display()));
        }
        std::fs::set_permissions(out, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
        done.push(format!("bundle in {}: crun run --bundle {} {}", out.display(), out.display(), plan.name));
    }
    println!(
        "wrote {} host files ({} with set-uid/set-gid bits cleared, as the sandbox's nosuid /usr has them) \
         and {} of the sandbox's, {} bytes",
        written.host_files, written.setid_cleared, written.private_files, written.bytes
    );
    for d in done {
        println!("{d}");
    }
    if let Some((info, profile)) = image_done {
        println!("{}", podman_run(&plan, &info.tag, &profile));
        if a.load {
            let out = a.oci_image.as_ref().expect("requires oci_image");
            let st = std::process::Command::new("podman")
                .arg("load")
                .arg("-i")
                .arg(out)
                .status()
                .context("running podman load")?;
            if !st.success() {
                bail!("podman load -i {} failed ({st}): the archive is kept", out.display());
            }
        }
    }
    Ok(())
}

/// The podman command line that runs the image as confined as the sandbox.
pub fn podman_run(plan: &export::ExportPlan, tag: &str, profile: &Path) -> String {
    let mut v = vec![
        "podman".to_string(),
        "run".into(),
        "-d".into(),
        "--name".into(),
        plan.name.clone(),
        "--hostname".into(),
        plan.hostname.clone(),
        "--cap-drop".into(),
        "all".into(),
    ];
    if !plan.caps.is_empty() {
        v.push("--cap-add".into());
        v.push(plan.caps.join(","));
    }
    v.extend([
        "--security-opt".into(),
        format!("seccomp={}", profile.display()),
        "--security-opt".into(),
        "no-new-privileges".into(),
        "--read-only".into(),
        "-v".into(),
        format!("{}-var:/var", plan.name),
    ]);
    // The sandbox's network: the host's, none, or its own with the
    // published ports.
    match plan.network.as_str() {
        "host" => v.extend(["--network".into(), "host".into()]),
        "none" => v.extend(["--network".into(), "none".into()]),
        _ => {
            for (host, port) in &plan.published {
                v.push("-p".into());
                v.push(format!("{host}:{port}"));
            }
        }
    }
    v.push(tag.to_string());
    format!("run it: {}", shell_words::join(v))
}
