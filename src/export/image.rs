//! An OCI image archive (the image layout of image-spec, in one tar, as
//! `podman load` and `skopeo copy oci-archive:` read it) of a staged
//! export: two layers, the packages' files (`rootfs/`) and the sandbox's
//! own (`private/`), so sandboxes of the same packages share the first.
//!
//! Reproducible: entries sorted by name, owners as numbers, no user or
//! group names, times clamped to the sandbox's creation (as
//! SOURCE_DATE_EPOCH clamps), JSON with sorted keys; the same sandbox
//! exported twice gives the same digests.

use super::stage::{PRIVATE, ROOTFS};
use super::ExportPlan;
use anyhow::{bail, Context, Result};
use oci_spec::image::{
    ConfigBuilder, Descriptor, DescriptorBuilder, ImageConfigurationBuilder, ImageIndexBuilder, ImageManifestBuilder,
    MediaType, RootFsBuilder, Sha256Digest,
};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::io::{Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::str::FromStr;

/// A writer that hashes what passes through.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
    size: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(b)?;
        self.hash.update(&b[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// One layer: a tar of `dir`'s content, its sha256 and size.
fn layer(dir: &Path, clamp: u64, shift: Option<u32>, out: std::fs::File) -> Result<(std::fs::File, String, u64)> {
    let w = Hashing { inner: std::io::BufWriter::new(out), hash: Sha256::new(), size: 0 };
    let mut tar = tar::Builder::new(w);
    tar.follow_symlinks(false);
    let unshift = |id: u32| match shift {
        Some(b) if id >= b => id - b,
        _ => id,
    };
    for e in walkdir::WalkDir::new(dir).min_depth(1).sort_by_file_name() {
        let e = e.with_context(|| format!("reading {}", dir.display()))?;
        crate::interrupt::check()?;
        let rel = e.path().strip_prefix(dir).expect("beneath the walk's root");
        let m = e.path().symlink_metadata().with_context(|| format!("reading {}", e.path().display()))?;
        let mut h = tar::Header::new_gnu();
        h.set_mode(m.mode() & 0o7777);
        h.set_uid(u64::from(unshift(m.uid())));
        h.set_gid(u64::from(unshift(m.gid())));
        h.set_mtime((m.mtime().max(0) as u64).min(clamp));
        let ft = m.file_type();
        if ft.is_dir() {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
            tar.append_data(&mut h, rel, std::io::empty())?;
        } else if ft.is_symlink() {
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            let target = std::fs::read_link(e.path())?;
            tar.append_link(&mut h, rel, target)?;
        } else if ft.is_file() {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(m.len());
            let f = std::fs::File::open(e.path()).with_context(|| format!("reading {}", e.path().display()))?;
            tar.append_data(&mut h, rel, f)?;
        }
        // Sockets, FIFOs and device nodes: the staging copied none.
    }
    let w = tar.into_inner()?;
    let digest = format!("{:x}", w.hash.finalize());
    let f = w.inner.into_inner().map_err(|e| e.into_error())?;
    Ok((f, digest, w.size))
}

/// JSON with sorted keys (oci-spec keeps labels in HashMaps): through a
/// serde_json Value, whose maps are ordered.
fn canonical<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(&serde_json::to_value(v)?)?)
}

fn descriptor(mt: MediaType, digest: &str, size: u64) -> Result<Descriptor> {
    Ok(DescriptorBuilder::default().media_type(mt).digest(Sha256Digest::from_str(digest)?).size(size).build()?)
}

fn rfc3339(secs: u64) -> String {
    // Days to a civil date (Howard Hinnant's algorithm), no date crate for one line.
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// The image's name in the archive (podman load names it so).
pub fn default_tag(plan: &ExportPlan) -> String {
    format!("localhost/{}:latest", plan.name)
}

/// What was written, for the report and the size figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImageInfo {
    pub tag: String,
    pub manifest_digest: String,
    pub layers: Vec<(String, u64)>,
    pub size: u64,
}

/// Writes the archive of `staged` (stage::write's directory) to `out`.
pub fn write(plan: &ExportPlan, staged: &Path, tag: &str, out: &mut std::fs::File) -> Result<ImageInfo> {
    let clamp = plan.created;
    let mut blobs: Vec<(String, std::fs::File, u64)> = Vec::new();
    let mut layers = Vec::new();
    for part in [ROOTFS, PRIVATE] {
        let tmp = tempfile::tempfile_in(staged).context("a temporary file for a layer")?;
        let (mut f, digest, size) = layer(&staged.join(part), clamp, plan.user_namespace, tmp)?;
        f.rewind()?;
        layers.push((digest.clone(), size));
        blobs.push((digest, f, size));
    }
    let mut env = plan.process.env.clone();
    env.sort();
    let labels: HashMap<String, String> = plan.labels.clone().into_iter().collect();
    let config = ConfigBuilder::default()
        // root: the shim, as in the sandbox, changes to the units' User= itself.
        .user("0:0")
        .entrypoint(plan.process.args.clone())
        .env(env)
        .working_dir(plan.process.cwd.clone())
        .stop_signal("SIGTERM")
        .exposed_ports(plan.ports.iter().map(|p| format!("{p}/tcp")).collect::<Vec<_>>())
        .labels(labels)
        .build()?;
    let image = ImageConfigurationBuilder::default()
        .created(rfc3339(plan.created))
        .architecture(oci_spec::image::Arch::Amd64)
        .os(oci_spec::image::Os::Linux)
        .config(config)
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(layers.iter().map(|(d, _)| format!("sha256:{d}")).collect::<Vec<_>>())
                .build()?,
        )
        .build()?;
    if !cfg!(target_arch = "x86_64") {
        bail!("export --oci-image writes amd64 images only");
    }
    let config_json = canonical(&image)?;
    let config_digest = format!("{:x}", Sha256::digest(&config_json));
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(descriptor(MediaType::ImageConfig, &config_digest, config_json.len() as u64)?)
        .layers(layers.iter().map(|(d, s)| descriptor(MediaType::ImageLayer, d, *s)).collect::<Result<Vec<_>>>()?)
        .build()?;
    let manifest_json = canonical(&manifest)?;
    let manifest_digest = format!("{:x}", Sha256::digest(&manifest_json));
    let mut md = descriptor(MediaType::ImageManifest, &manifest_digest, manifest_json.len() as u64)?;
    md.set_annotations(Some(HashMap::from([("org.opencontainers.image.ref.name".to_string(), tag.to_string())])));
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![md])
        .build()?;
    let index_json = canonical(&index)?;

    let mut tar = tar::Builder::new(std::io::BufWriter::new(out));
    let put = |tar: &mut tar::Builder<_>, path: &str, size: u64, data: &mut dyn std::io::Read| -> Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_mtime(clamp);
        h.set_size(size);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, path, data).with_context(|| format!("writing {path}"))?;
        Ok(())
    };
    let layout_json = br#"{"imageLayoutVersion":"1.0.0"}"#;
    put(&mut tar, "oci-layout", layout_json.len() as u64, &mut &layout_json[..])?;
    put(&mut tar, "index.json", index_json.len() as u64, &mut &index_json[..])?;
    for (d, f, s) in blobs.iter_mut() {
        put(&mut tar, &format!("blobs/sha256/{d}"), *s, f)?;
    }
    put(&mut tar, &format!("blobs/sha256/{config_digest}"), config_json.len() as u64, &mut &config_json[..])?;
    put(&mut tar, &format!("blobs/sha256/{manifest_digest}"), manifest_json.len() as u64, &mut &manifest_json[..])?;
    let w = tar.into_inner()?;
    let f = w.into_inner().map_err(|e| e.into_error())?;
    f.sync_all().context("syncing the image archive")?;
    let size = f.metadata()?.len();
    Ok(ImageInfo { tag: tag.to_string(), manifest_digest: format!("sha256:{manifest_digest}"), layers, size })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_796_140_405), "2026-12-01T15:53:25Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
