#!/bin/sh
# Runs inside the image's chroot while it is built (customize.sh): builds the kernel's
# gpio-sim driver out of tree for the image's own kernel, from Debian's linux-source
# package, with a `persist_outputs` option that keeps a released output line at its last
# level the way Raspberry Pi kernels do (pinctrl_bcm2835 persist_gpio_outputs). Debian 12
# kernels ship neither gpio-sim nor gpio-mockup, and CONFIG_IRQ_SIM is off, so the
# interrupt simulator (kernel/irq/irq_sim.c) is linked into the same module.
set -eu
kver=$(ls /lib/modules | sort -V | tail -n 1)
src=$(ls /usr/src/linux-source-*.tar.xz | sort -V | tail -n 1)
top=$(basename "$src" .tar.xz)
work=/tmp/gpio-sim-build
rm -rf "$work" && mkdir -p "$work"
tar -C "$work" -xJf "$src" "$top/drivers/gpio/gpio-sim.c" "$top/drivers/gpio/gpiolib.h" \
  "$top/kernel/irq/irq_sim.c"
cd "$work"
# A module cannot share its name with one of its objects: gpio-sim.ko = core + irq_sim.
cp "$top/drivers/gpio/gpio-sim.c" gpio-sim-core.c
cp "$top/drivers/gpio/gpiolib.h" gpiolib.h
cp "$top/kernel/irq/irq_sim.c" irq_sim.c
python3 /tmp/patch_gpio_sim.py gpio-sim-core.c irq_sim.c
cat > Makefile <<'MK'
obj-m := gpio-sim.o
gpio-sim-y := gpio-sim-core.o irq_sim.o
MK
make -s -C "/usr/src/linux-headers-$kver" M="$work" modules
install -D -m 0644 gpio-sim.ko "/lib/modules/$kver/updates/gpio-sim.ko"
depmod "$kver"
modinfo -k "$kver" gpio-sim | grep -q persist_outputs
echo "gpio-sim with persist_outputs built for $kver"
rm -rf "$work"
