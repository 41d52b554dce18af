#!/bin/sh
# mmdebstrap's customize hook (runs on the host; $1 is the image's root): the VM's own
# pieces, the gpio-sim module built inside the image for its kernel, and a lean boot.
set -eu
root=$1
here=$(cd "$(dirname "$0")" && pwd)
install -m 0755 "$here/agent.py" "$root/usr/local/sbin/gatehouse-vm-agent"
install -m 0755 "$here/gpio-setup.sh" "$root/usr/local/sbin/gatehouse-vm-gpio"
install -m 0755 "$here/scanner.py" "$root/usr/local/sbin/gatehouse-vm-scanner"
install -m 0644 "$here"/units/*.service "$root/etc/systemd/system/"
install -m 0644 "$here/60-gatehouse-vm.rules" "$root/etc/udev/rules.d/"

echo gate-vm > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tgate-vm\n' > "$root/etc/hosts"
# The host's shares: the project (read-only), the wheelhouse (read-only), the run's folder.
install -d "$root/mnt/project" "$root/mnt/wheels" "$root/mnt/run"
cat > "$root/etc/fstab" <<FSTAB
/dev/vda / ext4 rw,errors=remount-ro 0 0
project /mnt/project 9p trans=virtio,version=9p2000.L,msize=262144,ro,nofail 0 0
wheels /mnt/wheels 9p trans=virtio,version=9p2000.L,msize=262144,ro,nofail 0 0
run /mnt/run 9p trans=virtio,version=9p2000.L,msize=262144,nofail 0 0
FSTAB
printf '9p\n9pnet_virtio\n' > "$root/etc/modules-load.d/gatehouse-vm.conf"

cp "$here/build-gpio-sim.sh" "$here/patch_gpio_sim.py" "$root/tmp/"
chroot "$root" sh /tmp/build-gpio-sim.sh
rm -f "$root/tmp/build-gpio-sim.sh" "$root/tmp/patch_gpio_sim.py" "$root"/usr/src/linux-source-*.tar.xz

chroot "$root" getent group gpio >/dev/null || chroot "$root" groupadd --system gpio
chroot "$root" passwd -d root >/dev/null   # console login for a person looking into a failure
chroot "$root" systemctl enable -q gatehouse-vm-agent.service gatehouse-vm-gpio.service \
  gatehouse-vm-scanner.service
# Nothing periodic competes with the test for the two emulated CPUs.
chroot "$root" systemctl mask -q apt-daily.timer apt-daily-upgrade.timer man-db.timer \
  e2scrub_all.timer fstrim.timer dpkg-db-backup.timer 2>/dev/null || true
# The installers must work offline: no package lists, as on a gate without internet.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
