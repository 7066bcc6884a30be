//! Cross-checks against the reference tools: what we sign, `sbverify`
//! (sbsigntool) and `openssl cms -verify` accept; what `sbsign` and
//! `openssl cms -sign` write, kexec-sig accepts (or refuses with Linux's
//! errno). A missing tool fails the test, naming the package.

use std::path::{Path, PathBuf};
use std::process::Command;

use abi::Errno;
use kexec_sig::{verify_appended, verify_pe, HashAlgo, Keyring};

use crate::appended::sign_appended;
use crate::pe::sign_pe;
use crate::pki::TestPki;
use crate::tests::tiny_pe;
use crate::Signer;

fn tool(name: &str, package: &str) -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':').chain(["/usr/bin", "/usr/sbin"]) {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("{name} not found: install the Debian package {package} (.ci/run and scripts/setup.sh do)");
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("kexec-sign-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
    fn p(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn setup(tag: &str) -> (Dir, TestPki, Signer, Keyring) {
    let d = Dir::new(tag);
    let pki = TestPki::generate().unwrap();
    pki.write(&d.0).unwrap();
    let s = Signer { identity: pki.signer.clone(), chain: vec![], hash: HashAlgo::Sha256, include_certs: true };
    let mut k = Keyring::new(".builtin_trusted_keys");
    k.add_der(&pki.ca).unwrap();
    (d, pki, s, k)
}

#[test]
fn sbverify_accepts_ours_and_we_accept_sbsigns() {
    let (sbsign, sbverify) = (tool("sbsign", "sbsigntool"), tool("sbverify", "sbsigntool"));
    let (d, _pki, s, k) = setup("sb");
    std::fs::write(d.p("in.efi"), tiny_pe()).unwrap();
    let ours = sign_pe(&tiny_pe(), &s).unwrap();
    std::fs::write(d.p("ours.efi"), &ours).unwrap();
    let (ok, out) = run(Command::new(&sbverify).arg("--cert").arg(d.p("ca.pem")).arg(d.p("ours.efi")));
    assert!(ok, "sbverify refused our signature:\n{out}");
    // sbverify really checks: against another CA it refuses.
    let mut r = crate::pki::rng(99);
    let other = crate::pki::root(&mut r, crate::KeyKind::P256, "CN=other", HashAlgo::Sha256).unwrap();
    std::fs::write(d.p("other.pem"), crate::pki::cert_pem(&other.cert).unwrap()).unwrap();
    let (ok, out) = run(Command::new(&sbverify).arg("--cert").arg(d.p("other.pem")).arg(d.p("ours.efi")));
    assert!(!ok, "sbverify accepted our signature against an unrelated CA:\n{out}");

    let (ok, out) = run(Command::new(&sbsign)
        .arg("--key").arg(d.p("signer.key.pem"))
        .arg("--cert").arg(d.p("signer.pem"))
        .arg("--output").arg(d.p("theirs.efi"))
        .arg(d.p("in.efi")));
    assert!(ok, "sbsign failed:\n{out}");
    let theirs = std::fs::read(d.p("theirs.efi")).unwrap();
    let v = verify_pe(&theirs, &k).unwrap_or_else(|e| panic!("sbsign's signature refused: {e}"));
    assert!(v.signer.contains("kexos test signer"), "{v:?}");
    let mut bad = theirs.clone();
    bad[0x300] ^= 1;
    assert_eq!(verify_pe(&bad, &k).unwrap_err().errno(), Errno::EKEYREJECTED);
    // Same layout as sbsign: the table at the same offset, the image
    // before it identical but for the two fields that depend on the
    // message's length (the certificate-table entry and the checksum).
    let masked = |b: &[u8]| {
        let p = kexec_sig::pefile::PeFile::parse(b).unwrap();
        let mut m = b[..p.cert_table.unwrap().0].to_vec();
        m[p.cert_dirent_offset..p.cert_dirent_offset + 8].fill(0);
        m[p.checksum_offset..p.checksum_offset + 4].fill(0);
        m
    };
    assert_eq!(masked(&ours), masked(&theirs), "the image before the certificate table");
    eprintln!("ours {} bytes, sbsign's {} bytes; identical: {}", ours.len(), theirs.len(), ours == theirs);
}

#[test]
fn openssl_cms_agrees_on_appended_signatures() {
    let openssl = tool("openssl", "openssl");
    let (d, pki, s, k) = setup("cms");
    let payload = b"\x7fELF a kernel payload".to_vec();
    std::fs::write(d.p("payload"), &payload).unwrap();
    // Ours, checked by openssl.
    let signed = sign_appended(&payload, &s).unwrap();
    let split = kexec_sig::appended::split(&signed).unwrap();
    std::fs::write(d.p("ours.p7"), split.pkcs7).unwrap();
    let verify = |p7: &str| {
        run(Command::new(&openssl).args(["cms", "-verify", "-binary", "-inform", "DER", "-purpose", "any", "-in"]).arg(d.p(p7))
            .arg("-content").arg(d.p("payload")).arg("-CAfile").arg(d.p("ca.pem")).arg("-out").arg(d.p("out")))
    };
    let (ok, out) = verify("ours.p7");
    assert!(ok, "openssl cms -verify refused our appended signature:\n{out}");

    // sign-file's command line: openssl cms -sign -noattr, SHA-256 and SHA-1.
    for (md, want) in [("sha256", None), ("sha512", None), ("sha1", Some(Errno::ENOPKG))] {
        let (ok, out) = run(Command::new(&openssl)
            .args(["cms", "-sign", "-binary", "-noattr", "-nosmimecap", "-outform", "DER", "-md", md, "-in"]).arg(d.p("payload"))
            .arg("-signer").arg(d.p("signer.pem")).arg("-inkey").arg(d.p("signer.key.pem")).arg("-out").arg(d.p("theirs.p7")));
        assert!(ok, "openssl cms -sign -md {md}:\n{out}");
        let p7 = std::fs::read(d.p("theirs.p7")).unwrap();
        let file = kexec_sig::appended::append(&payload, &p7).unwrap();
        match (verify_appended(&file, &k), want) {
            (Ok(v), None) => assert!(v.signer.contains("kexos test signer")),
            (Err(e), Some(errno)) => assert_eq!(e.errno(), errno, "-md {md}: {e}"),
            (r, _) => panic!("-md {md}: unexpected {r:?}"),
        }
    }
    let _ = pki;
}
