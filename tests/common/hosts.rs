//! Simulated servers for the deploy tests, each a real Docker host reached
//! over real SSH: a dockerd of its own beside the machine's (own data,
//! exec root, pidfile, socket and bridge, never `--bridge none`, which
//! would delete the machine's docker0; no iptables of its own, so the
//! machine's rules stay as they are; ports published on its own loopback
//! address, as a server has its own IP), an sshd on a loopback port whose
//! sessions point `docker` at that daemon (`SetEnv DOCKER_HOST`, so the
//! CLI's `docker system dial-stdio` reaches it), and Debian's
//! docker-registry on loopback. Keys are made here, in files only. All of
//! it stops on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{eventually, free_port, Daemon};

/// `ssh-keygen` a passwordless ed25519 key at `path`; its public line.
fn keygen(path: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "phx-xtask-test",
            "-f",
        ])
        .arg(path)
        .output()
        .expect("ssh-keygen is installed (openssh-client)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(path.with_extension("pub"))
        .unwrap()
        .trim()
        .to_string()
}

/// A docker host: its dockerd and the sshd in front of it.
pub struct Host {
    /// The loopback address its published ports bind (127.0.0.2, …).
    pub ip: String,
    /// `unix:///…/docker.sock`, for the test's own look inside.
    pub socket: String,
    pub ssh_port: u16,
    host_key: String,
    /// The bridges of the networks made with `network`, with their
    /// FORWARD rule.
    networks: Vec<String>,
    sshd: Option<Daemon>,
    dockerd: Child,
    bridge: String,
    dir: tempfile::TempDir,
}

impl Host {
    /// Host number `n` (1, 2, …): 127.0.0.{n+1}, its own bridge and pool.
    pub fn start(n: u8, authorized: &str) -> Host {
        let dir = tempfile::Builder::new()
            .prefix("phx-xtask-host-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        let bridge = format!("phxh{}{n}", std::process::id() % 10000);
        let subnet = 200 + u32::from(n);
        ip(&["link", "add", "name", &bridge, "type", "bridge"]);
        ip(&[
            "addr",
            "add",
            &format!("10.{subnet}.255.1/24"),
            "dev",
            &bridge,
        ]);
        ip(&["link", "set", &bridge, "up"]);
        let ip_addr = format!("127.0.0.{}", n + 1);
        let socket = format!("unix://{}/docker.sock", d.display());
        let log = std::fs::File::create(d.join("dockerd.log")).unwrap();
        let dockerd = Command::new("dockerd")
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("docker.pid"))
            .args([
                "-H",
                &socket,
                "--bridge",
                &bridge,
                "--iptables=false",
                "--ip",
                &ip_addr,
            ])
            .args([
                "--default-address-pool",
                &format!("base=10.{subnet}.0.0/16,size=24"),
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("dockerd is installed");
        let mut host = Host {
            ip: ip_addr,
            socket,
            ssh_port: 0,
            host_key: String::new(),
            networks: Vec::new(),
            sshd: None,
            dockerd,
            bridge,
            dir,
        };
        eventually(Duration::from_secs(60), || {
            host.docker(&["version"]).0.then_some(())
        });
        host.start_sshd(authorized);
        host
    }

    /// sshd on a free loopback port; sessions get this daemon's DOCKER_HOST.
    fn start_sshd(&mut self, authorized: &str) {
        let d = self.dir.path().to_path_buf();
        std::fs::create_dir_all("/run/sshd").unwrap();
        let key = d.join("host_ed25519");
        if !key.exists() {
            self.host_key = keygen(&key);
        }
        std::fs::write(d.join("authorized_keys"), format!("{authorized}\n")).unwrap();
        if self.ssh_port == 0 {
            self.ssh_port = free_port();
        }
        let conf = format!(
            "ListenAddress 127.0.0.1:{port}\nHostKey {key}\nPidFile {dir}/sshd.pid\nAuthorizedKeysFile {dir}/authorized_keys\n\
             PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n\
             SetEnv DOCKER_HOST={socket}\n",
            port = self.ssh_port,
            key = key.display(),
            dir = d.display(),
            socket = self.socket
        );
        std::fs::write(d.join("sshd_config"), conf).unwrap();
        let mut cmd = Command::new("/usr/sbin/sshd");
        cmd.args(["-D", "-e", "-f"]).arg(d.join("sshd_config"));
        self.sshd = Some(Daemon::spawn(cmd, self.ssh_port));
    }

    /// A network on this host as a server's would be: its ports published
    /// on the host's own address, and its containers able to talk. (The
    /// machine's FORWARD policy is DROP and bridged traffic passes through
    /// it; this daemon adds no rules of its own, so one narrow ACCEPT for
    /// this network's bridge is added here, and removed on drop.)
    pub fn network(&mut self, name: &str) {
        let bridge = format!(
            "phxn{}{}",
            std::process::id() % 10000,
            &self.ip[self.ip.len() - 1..]
        );
        let bind = format!("com.docker.network.bridge.host_binding_ipv4={}", self.ip);
        let br = format!("com.docker.network.bridge.name={bridge}");
        let (ok, out) = self.docker(&["network", "create", "-o", &bind, "-o", &br, name]);
        assert!(ok, "{out}");
        iptables(&[
            "-I", "FORWARD", "-i", &bridge, "-o", &bridge, "-j", "ACCEPT",
        ]);
        self.networks.push(bridge);
    }

    /// What a deploy config names it by.
    pub fn url(&self) -> String {
        format!("ssh://root@127.0.0.1:{}", self.ssh_port)
    }

    pub fn stop_sshd(&mut self) {
        self.sshd = None;
    }

    pub fn restart_sshd(&mut self, authorized: &str) {
        self.start_sshd(authorized);
    }

    /// `docker ARGS` on this host's daemon, directly: (ok, output).
    pub fn docker(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new("docker")
            .args(args)
            .env("DOCKER_HOST", &self.socket)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text.trim().to_string())
    }

    /// Copies a local image of the machine's daemon here (`docker save |
    /// docker load`), as a server would have pulled it.
    pub fn load(&self, image: &str) {
        if self.docker(&["image", "inspect", image]).0 {
            return;
        }
        let mut save = Command::new("docker")
            .args(["save", image])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let load = Command::new("docker")
            .args(["load", "--quiet"])
            .env("DOCKER_HOST", &self.socket)
            .stdin(save.stdout.take().unwrap())
            .output()
            .unwrap();
        assert!(
            save.wait().unwrap().success() && load.status.success(),
            "load {image}: {}",
            String::from_utf8_lossy(&load.stderr)
        );
    }

    /// The known_hosts line for this host's key.
    pub fn known_hosts_line(&self) -> String {
        format!("[127.0.0.1]:{} {}", self.ssh_port, self.host_key)
    }
}

fn iptables(args: &[&str]) {
    let out = Command::new("iptables")
        .args(args)
        .output()
        .expect("iptables is installed");
    assert!(
        out.status.success(),
        "iptables {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("iproute2 is installed");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Drop for Host {
    fn drop(&mut self) {
        self.sshd = None;
        let (_, ids) = self.docker(&["ps", "-aq"]);
        for id in ids.lines().filter(|l| !l.is_empty()) {
            let _ = self.docker(&["rm", "-f", "-v", id]);
        }
        // SAFETY: kill(2) on the pid of a child we started and not yet reaped.
        unsafe { libc::kill(self.dockerd.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        while matches!(self.dockerd.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.dockerd.kill();
        let _ = self.dockerd.wait();
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .output();
        // The networks' bridges outlive the daemon; their rules are ours.
        for br in &self.networks {
            let rule = ["-D", "FORWARD", "-i", br, "-o", br, "-j", "ACCEPT"];
            let _ = Command::new("iptables").args(rule).output();
            let _ = Command::new("ip").args(["link", "del", br]).output();
        }
    }
}

/// The deploying machine's SSH side: a key, a known_hosts with the hosts'
/// keys, and an ssh config using only them. OpenSSH reads the config of
/// the passwd entry's home, not $HOME, so `bin/ssh` (first on PATH, which
/// the docker CLI runs) is the real ssh with `-F` that config, as a user's
/// ~/.ssh/config would be.
pub struct Client {
    pub home: tempfile::TempDir,
    pub public: String,
}

impl Client {
    pub fn new() -> Client {
        let home = tempfile::Builder::new()
            .prefix("phx-xtask-home-")
            .tempdir()
            .unwrap();
        let ssh = home.path().join(".ssh");
        std::fs::create_dir_all(&ssh).unwrap();
        let public = keygen(&ssh.join("id_ed25519"));
        let conf = format!(
            "Host *\n  IdentityFile {0}/id_ed25519\n  IdentitiesOnly yes\n  UserKnownHostsFile {0}/known_hosts\n  StrictHostKeyChecking yes\n  BatchMode yes\n",
            ssh.display()
        );
        std::fs::write(ssh.join("config"), conf).unwrap();
        std::fs::set_permissions(
            ssh.join("config"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        let bin = home.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let wrapper = format!(
            "#!/bin/sh\nexec /usr/bin/ssh -F {}/config \"$@\"\n",
            ssh.display()
        );
        std::fs::write(bin.join("ssh"), wrapper).unwrap();
        std::fs::set_permissions(
            bin.join("ssh"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        Client { home, public }
    }

    /// PATH with this client's ssh first.
    pub fn path(&self) -> String {
        format!(
            "{}/bin:{}",
            self.home.path().display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    pub fn trust(&self, hosts: &[&Host]) {
        let lines: Vec<String> = hosts.iter().map(|h| h.known_hosts_line()).collect();
        std::fs::write(
            self.home.path().join(".ssh/known_hosts"),
            lines.join("\n") + "\n",
        )
        .unwrap();
    }

    pub fn home(&self) -> PathBuf {
        self.home.path().to_path_buf()
    }
}

/// Debian's docker-registry on a free loopback port, without auth (the
/// daemons pull from 127.0.0.0/8 over plain HTTP by default).
pub struct Registry {
    daemon: Daemon,
    _dir: tempfile::TempDir,
}

impl Registry {
    pub fn start() -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let mut cmd = Command::new("docker-registry");
        cmd.args(["serve", config.to_str().unwrap()]);
        Registry {
            daemon: Daemon::spawn(cmd, port),
            _dir: dir,
        }
    }

    pub fn port(&self) -> u16 {
        self.daemon.port
    }
}
