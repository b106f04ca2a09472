//! Test certificates made with the `openssl` command at test time: a CA, a node certificate
//! (server and client use, for localhost and 127.0.0.1: what a server presents and what a
//! replica shows its primary), a client certificate, and a second CA with a client of its own
//! that the first CA must not accept.
#![allow(dead_code, clippy::disallowed_methods, clippy::disallowed_types)]

use std::path::PathBuf;
use std::process::Command;

pub struct Certs {
    dir: PathBuf,
}

impl Certs {
    /// None when no `openssl` command is installed.
    pub fn generate(tag: &str) -> Option<Certs> {
        if !super::tools::available("openssl", "version") {
            return None;
        }
        let dir = std::env::temp_dir().join(format!("mayfly-tls-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let c = Certs { dir };
        c.ca("ca");
        c.ca("rogue-ca");
        c.leaf("node", "ca", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n");
        c.leaf("client", "ca", "extendedKeyUsage=clientAuth\n");
        c.leaf("rogue-client", "rogue-ca", "extendedKeyUsage=clientAuth\n");
        Some(c)
    }

    /// The path of `name` (`ca.crt`, `node.key`...).
    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }

    fn openssl(&self, args: &[&str]) {
        let out = Command::new("openssl").current_dir(&self.dir).args(args).output().expect("run openssl");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn ca(&self, name: &str) {
        let (key, crt, subj) = (format!("{name}.key"), format!("{name}.crt"), format!("/CN=Mayfly test {name}"));
        self.openssl(&["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", &key]);
        self.openssl(&["req", "-x509", "-new", "-key", &key, "-out", &crt, "-days", "2", "-subj", &subj]);
    }

    fn leaf(&self, name: &str, ca: &str, extensions: &str) {
        let (key, csr, crt, ext) =
            (format!("{name}.key"), format!("{name}.csr"), format!("{name}.crt"), format!("{name}.ext"));
        std::fs::write(self.dir.join(&ext), format!("keyUsage=digitalSignature\n{extensions}")).unwrap();
        // PKCS#8 ("BEGIN PRIVATE KEY"), what `openssl req -newkey` writes.
        self.openssl(
            &["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
                .into_iter()
                .chain(["-keyout", &key, "-out", &csr, "-subj", &format!("/CN={name}")])
                .collect::<Vec<_>>(),
        );
        let (ca_crt, ca_key) = (format!("{ca}.crt"), format!("{ca}.key"));
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_crt,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "2",
            "-extfile",
            &ext,
        ]);
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
