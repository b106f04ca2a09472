//! CONFIG REWRITE's file work through the runtime seam: read the flag file, write the new text
//! to a temporary file beside it, make it durable, then rename it over the old one, so a crash
//! leaves either the old file or the new one.

use crate::runtime::{DiskFile, OpenMode, Rt};
use std::io;
use std::path::Path;

async fn read_all<R: Rt>(rt: &R, path: &Path) -> io::Result<String> {
    let f = rt.open(path, OpenMode::READ).await?;
    let len = f.size().await? as usize;
    let mut buf = vec![0u8; len];
    let mut at = 0;
    while at < len {
        let n = f.read_at(&mut buf[at..], at as u64).await?;
        if n == 0 {
            break;
        }
        at += n;
    }
    buf.truncate(at);
    String::from_utf8(buf).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "the file is not UTF-8 text"))
}

/// Rewrites the flag file at `path` with the running configuration.
pub async fn rewrite<R: Rt>(rt: &R, path: &str, store: &crate::config::ConfigStore) -> io::Result<()> {
    let path = Path::new(path);
    // A flag file removed since startup is created again, as Redis does with redis.conf.
    let old = match read_all(rt, path).await {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let text = crate::config::rewrite(&old, store);
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.rewrite-{:x}", rt.rng_u64()));
    let f = rt.open(&tmp, OpenMode::CREATE_NEW).await?;
    let written = async {
        f.write_at(text.as_bytes(), 0).await?;
        f.sync_data().await
    }
    .await;
    if let Err(e) = written {
        let _ = rt.remove(&tmp).await;
        return Err(e);
    }
    drop(f);
    if let Err(e) = rt.rename(&tmp, path).await {
        let _ = rt.remove(&tmp).await;
        return Err(e);
    }
    rt.sync_dir(dir).await
}
