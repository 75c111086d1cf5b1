//! Disk encryption: whether the root filesystem lies on dm-crypt (LUKS, plain dm-crypt,
//! BitLocker or VeraCrypt volumes opened by cryptsetup), found by walking the block-device
//! stack in sysfs down from the root filesystem's device; or, for a ZFS root, ZFS's own
//! encryption. All of it readable without admin rights.

use super::{failure, run_tool};
use crate::posture::probe::Host;
use crate::posture::report::Fact;

pub(super) fn probe(host: &dyn Host) -> Fact<bool> {
    match root_encrypted(host) {
        Ok(encrypted) => Fact::known(encrypted),
        Err(e) => Fact::unknown(e),
    }
}

fn root_encrypted(host: &dyn Host) -> Result<bool, String> {
    let mountinfo = host.read_to_string("/proc/self/mountinfo")?;
    let root = root_mount(&mountinfo)?;
    if let Some(why) = unseen(&root.fstype) {
        return Err(why);
    }
    if root.fstype == "zfs" {
        return zfs_encrypted(host, &root.source);
    }
    let device = device_name(host, &root)?;
    crypt_below(host, &device, 0)
}

/// The filesystem mounted on `/`, as `/proc/self/mountinfo` says.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct RootMount {
    /// `major:minor` of its device (`0:…` for filesystems without one block device: btrfs,
    /// overlay, tmpfs).
    pub device: (u32, u32),
    pub fstype: String,
    /// What was mounted (`/dev/mapper/luks-…`, `rpool/ROOT/ubuntu`, `overlay`).
    pub source: String,
}

/// The last mount on `/` (a later one hides the earlier): `ID PARENT MAJ:MIN ROOT MOUNTPOINT
/// OPTIONS [OPTIONAL…] - FSTYPE SOURCE SUPEROPTIONS`.
pub(super) fn root_mount(mountinfo: &str) -> Result<RootMount, String> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let left: Vec<&str> = left.split_whitespace().collect();
            let mut right = right.split_whitespace();
            if left.get(4) != Some(&"/") {
                return None;
            }
            let (major, minor) = left.get(2)?.split_once(':')?;
            Some(RootMount {
                device: (major.parse().ok()?, minor.parse().ok()?),
                fstype: right.next()?.to_string(),
                source: right.next().unwrap_or_default().to_string(),
            })
        })
        .next_back()
        .ok_or_else(|| "/proc/self/mountinfo shows no root filesystem".into())
}

/// Why a root filesystem of this type has no disk to be seen from here, if it has none.
fn unseen(fstype: &str) -> Option<String> {
    let why = match fstype {
        "overlay" | "aufs" | "fuse.fuse-overlayfs" => {
            "the root filesystem is an overlay (a container): its disk cannot be seen from here"
        }
        "tmpfs" | "ramfs" | "rootfs" => {
            "the root filesystem is in memory (tmpfs): no disk lies under it to be seen from here"
        }
        "nfs" | "nfs4" | "cifs" | "smb3" | "9p" | "virtiofs" | "ceph" | "glusterfs" => {
            "the root filesystem is shared over the network or from a host: its disk cannot be seen from here"
        }
        fuse if fuse.starts_with("fuse") => {
            "the root filesystem is a FUSE filesystem: its disk cannot be seen from here"
        }
        _ => return None,
    };
    Some(why.into())
}

/// The kernel's name of the root's block device (`nvme0n1p3`, `dm-1`): from its device
/// number where it has one, else from the mounted source (btrfs mounts show `0:…`).
fn device_name(host: &dyn Host, root: &RootMount) -> Result<String, String> {
    let cannot = |e: String| format!("the root filesystem's disk cannot be found: {e}");
    let (major, minor) = root.device;
    if major != 0 {
        let uevent = host
            .read_to_string(&format!("/sys/dev/block/{major}:{minor}/uevent"))
            .map_err(cannot)?;
        return uevent
            .lines()
            .find_map(|l| l.strip_prefix("DEVNAME="))
            .map(|name| name.trim().to_string())
            .ok_or_else(|| cannot(format!("device {major}:{minor} has no name")));
    }
    let source = root.source.as_str();
    if let Some(mapped) = source.strip_prefix("/dev/mapper/") {
        let blocks = host.list_dir("/sys/class/block").map_err(cannot)?;
        return blocks
            .into_iter()
            .filter(|name| name.starts_with("dm-"))
            .find(|name| {
                host.read_to_string(&format!("/sys/class/block/{name}/dm/name"))
                    .is_ok_and(|n| n.trim() == mapped)
            })
            .ok_or_else(|| cannot(format!("no device-mapper device is named {mapped}")));
    }
    match source.strip_prefix("/dev/") {
        Some(name) if !name.contains('/') && host.exists(&format!("/sys/class/block/{name}")) => {
            Ok(name.to_string())
        }
        _ => Err(cannot(format!(
            "the {} root is mounted from {source}, which is no block device known here",
            root.fstype
        ))),
    }
}

/// Whether every path down from a block device reaches a dm-crypt layer: the device itself is
/// one (its `dm/uuid` starts `CRYPT-`), or it stands on devices (`slaves/`: LVM on LUKS,
/// RAID of LUKS members) that all do. A device on nothing, not crypt, is plain.
fn crypt_below(host: &dyn Host, name: &str, depth: usize) -> Result<bool, String> {
    let dir = format!("/sys/class/block/{name}");
    if depth > 16 {
        return Err(format!(
            "the block devices under the root filesystem go deeper than 16 layers at {name}"
        ));
    }
    if !host.exists(&dir) {
        return Err(format!(
            "the root filesystem's disk cannot be found: {dir} does not exist"
        ));
    }
    if let Ok(uuid) = host.read_to_string(&format!("{dir}/dm/uuid")) {
        if is_crypt(uuid.trim()) {
            return Ok(true);
        }
    }
    let below = host.list_dir(&format!("{dir}/slaves")).unwrap_or_default();
    if below.is_empty() {
        return Ok(false);
    }
    for device in below {
        if !crypt_below(host, &device, depth + 1)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A device-mapper UUID cryptsetup gave an encrypting device: `CRYPT-LUKS2-…`,
/// `CRYPT-LUKS1-…`, `CRYPT-PLAIN-…`, `CRYPT-BITLK-…`, `CRYPT-TCRYPT-…`. Its verity and
/// integrity devices (`CRYPT-VERITY-`, `CRYPT-INTEGRITY-`, `CRYPT-SUBDEV-`) check, not hide.
pub(super) fn is_crypt(dm_uuid: &str) -> bool {
    dm_uuid.strip_prefix("CRYPT-").is_some_and(|kind| {
        !["VERITY", "INTEGRITY", "SUBDEV"]
            .iter()
            .any(|checking| kind.starts_with(checking))
    })
}

/// A ZFS root: its dataset's `encryption` property (`off`, or the cipher).
fn zfs_encrypted(host: &dyn Host, dataset: &str) -> Result<bool, String> {
    let out = run_tool(
        host,
        "zfs",
        &["get", "-H", "-o", "value", "encryption", dataset],
    )
    .map_err(|e| format!("the root filesystem is ZFS and {e}"))?;
    if !out.success() {
        return Err(failure("zfs get encryption", &out));
    }
    match out.stdout.trim() {
        "" | "-" => Err(format!("zfs says nothing of {dataset}'s encryption")),
        "off" => Ok(false),
        _ => Ok(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::posture::probe::fake::FakeHost;
    use crate::posture::probe::linux::fixture;

    /// A block device in sysfs: its number, and what it stands on.
    fn block(
        host: &mut FakeHost,
        name: &str,
        number: &str,
        dm: Option<(&str, &str)>,
        slaves: &[&str],
    ) {
        host.file(
            &format!("/sys/dev/block/{number}/uevent"),
            format!(
                "MAJOR={}\nMINOR={}\nDEVNAME={name}\nDEVTYPE=disk\n",
                &number[..number.find(':').unwrap()],
                &number[number.find(':').unwrap() + 1..]
            ),
        );
        host.file(
            &format!("/sys/class/block/{name}/dev"),
            format!("{number}\n"),
        );
        if let Some((dm_name, uuid)) = dm {
            host.file(
                &format!("/sys/class/block/{name}/dm/name"),
                format!("{dm_name}\n"),
            );
            host.file(
                &format!("/sys/class/block/{name}/dm/uuid"),
                format!("{uuid}\n"),
            );
        }
        for slave in slaves {
            host.file(&format!("/sys/class/block/{name}/slaves/{slave}"), "");
        }
    }

    fn with_mountinfo(name: &str) -> FakeHost {
        let mut host = FakeHost::default();
        host.file("/proc/self/mountinfo", fixture(name));
        host
    }

    #[test]
    fn mountinfo_roots() {
        let vm = root_mount(&fixture("mountinfo-vm-ext4.txt")).unwrap();
        assert_eq!(
            vm,
            RootMount {
                device: (254, 0),
                fstype: "ext4".into(),
                source: "/dev/vda".into()
            }
        );
        let docker = root_mount(&fixture("mountinfo-docker-overlay.txt")).unwrap();
        assert_eq!((docker.fstype.as_str(), docker.device.0), ("overlay", 0));
        let fedora = root_mount(&fixture("mountinfo-fedora-btrfs-luks.txt")).unwrap();
        assert_eq!(
            fedora.source,
            "/dev/mapper/luks-4c1f7a9e-2b3d-4e5f-8a6b-7c8d9e0f1a2b"
        );
        assert!(root_mount("").is_err());
        assert!(root_mount("garbage\n1 2 3\n").is_err());
    }

    #[test]
    fn plain_disk_is_not_encrypted() {
        let mut host = with_mountinfo("mountinfo-vm-ext4.txt");
        block(&mut host, "vda", "254:0", None, &[]);
        assert_eq!(probe(&host), Fact::known(false));
    }

    #[test]
    fn lvm_on_luks_is_encrypted() {
        let mut host = with_mountinfo("mountinfo-ubuntu-lvm-luks.txt");
        block(
            &mut host,
            "dm-1",
            "253:1",
            Some(("vgubuntu-root", "LVM-Jr2lPzXw4k0aQyV3nUeB8sTmH6cG1fD9")),
            &["dm-0"],
        );
        block(
            &mut host,
            "dm-0",
            "253:0",
            Some((
                "nvme0n1p3_crypt",
                "CRYPT-LUKS2-5e0d4f3a2b1c4d9e8f7a6b5c4d3e2f1a-nvme0n1p3_crypt",
            )),
            &["nvme0n1p3"],
        );
        block(&mut host, "nvme0n1p3", "259:3", None, &[]);
        assert_eq!(probe(&host), Fact::known(true));
        // LVM spanning an encrypted and a plain volume: not all of it is encrypted.
        host.file("/sys/class/block/dm-1/slaves/sda1", "");
        block(&mut host, "sda1", "8:1", None, &[]);
        assert_eq!(probe(&host), Fact::known(false));
    }

    #[test]
    fn btrfs_names_its_mapper_device() {
        let mut host = with_mountinfo("mountinfo-fedora-btrfs-luks.txt");
        block(&mut host, "dm-0", "253:0", Some(("luks-4c1f7a9e-2b3d-4e5f-8a6b-7c8d9e0f1a2b", "CRYPT-LUKS2-4c1f7a9e2b3d4e5f8a6b7c8d9e0f1a2b-luks-4c1f7a9e-2b3d-4e5f-8a6b-7c8d9e0f1a2b")), &["nvme0n1p3"]);
        block(&mut host, "nvme0n1p3", "259:3", None, &[]);
        assert_eq!(probe(&host), Fact::known(true));
        // A mapper name no device has.
        host.file("/sys/class/block/dm-0/dm/name", "other\n");
        let Fact::Unknown { reason } = probe(&host) else {
            panic!()
        };
        assert!(
            reason.contains("no device-mapper device is named luks-4c1f"),
            "{reason}"
        );
        // btrfs straight on a partition.
        host.file(
            "/proc/self/mountinfo",
            fixture("mountinfo-fedora-btrfs-luks.txt").replace(
                "/dev/mapper/luks-4c1f7a9e-2b3d-4e5f-8a6b-7c8d9e0f1a2b",
                "/dev/nvme0n1p3",
            ),
        );
        assert_eq!(probe(&host), Fact::known(false));
        host.file(
            "/proc/self/mountinfo",
            "30 1 0:27 / / rw - btrfs /dev/disk/by-uuid/1234 rw\n",
        );
        let Fact::Unknown { reason } = probe(&host) else {
            panic!()
        };
        assert!(reason.contains("no block device known here"), "{reason}");
    }

    #[test]
    fn containers_memory_and_unresolvable_roots_are_unknown() {
        let host = with_mountinfo("mountinfo-docker-overlay.txt");
        assert_eq!(
            probe(&host),
            Fact::unknown("the root filesystem is an overlay (a container): its disk cannot be seen from here")
        );
        let mut tmpfs = FakeHost::default();
        tmpfs.file("/proc/self/mountinfo", "1 0 0:2 / / rw - tmpfs none rw\n");
        assert!(matches!(probe(&tmpfs), Fact::Unknown { reason } if reason.contains("in memory")));
        let mut nosys = with_mountinfo("mountinfo-vm-ext4.txt");
        assert_eq!(
            probe(&nosys),
            Fact::unknown("the root filesystem's disk cannot be found: /sys/dev/block/254:0/uevent does not exist")
        );
        nosys.files.clear();
        assert_eq!(
            probe(&nosys),
            Fact::unknown("/proc/self/mountinfo does not exist")
        );
    }

    #[test]
    fn zfs_roots_ask_zfs() {
        let mut host = with_mountinfo("mountinfo-ubuntu-zfs.txt");
        host.command(
            "zfs get -H -o value encryption rpool/ROOT/ubuntu_abc123",
            0,
            "aes-256-gcm\n",
        );
        assert_eq!(probe(&host), Fact::known(true));
        host.command(
            "zfs get -H -o value encryption rpool/ROOT/ubuntu_abc123",
            0,
            "off\n",
        );
        assert_eq!(probe(&host), Fact::known(false));
        host.commands.clear();
        assert_eq!(
            probe(&host),
            Fact::unknown("the root filesystem is ZFS and zfs is not installed")
        );
    }

    #[test]
    fn crypt_uuids() {
        assert!(is_crypt(
            "CRYPT-LUKS2-5e0d4f3a2b1c4d9e8f7a6b5c4d3e2f1a-root"
        ));
        assert!(is_crypt(
            "CRYPT-LUKS1-5e0d4f3a2b1c4d9e8f7a6b5c4d3e2f1a-root"
        ));
        assert!(is_crypt("CRYPT-PLAIN-swap"));
        assert!(is_crypt("CRYPT-BITLK-abc-windows"));
        assert!(!is_crypt("CRYPT-VERITY-abc-usr"));
        assert!(!is_crypt("CRYPT-INTEGRITY-abc-x"));
        assert!(!is_crypt("CRYPT-SUBDEV-abc-x"));
        assert!(!is_crypt("LVM-Jr2lPzXw4k0aQyV3nUeB8sTmH6cG1fD9"));
        assert!(!is_crypt("mpath-3600508b400105e210000900000490000"));
        assert!(!is_crypt(""));
    }
}
