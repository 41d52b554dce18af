#!/bin/sh
# Boot of the VM, before anything touches the pins: what a Raspberry Pi 4 brings by itself.
#  - a GPIO chip (gpio-sim, keeping released outputs at their last level like a Pi) with
#    28 lines named GPIO0..GPIO27 and the Pi's power-on pulls: GPIO0-8 up, 9-27 down. The
#    relay's line (17) thus reads 0 until something drives it, which on an active-low
#    relay board means UNLOCKED: only the project's door-lock service can make it locked.
#  - /proc/cpuinfo with a Pi 4's Revision line, which gpiozero insists on.
# /run/gpio-sim links to the chip's sysfs folder: sim_gpioN/value, sim_gpioN/pull.
set -eu
modprobe gpio-sim persist_outputs=1
cfg=/sys/kernel/config/gpio-sim
[ -d "$cfg" ] || { modprobe configfs; mount -t configfs none /sys/kernel/config 2>/dev/null || true; }
dev=$cfg/pi
mkdir "$dev" "$dev/bank0"
echo 28 > "$dev/bank0/num_lines"
echo pinctrl-bcm2711 > "$dev/bank0/label" 2>/dev/null || true
i=0
while [ $i -lt 28 ]; do
  mkdir "$dev/bank0/line$i"
  echo "GPIO$i" > "$dev/bank0/line$i/name"
  i=$((i + 1))
done
echo 1 > "$dev/live"
chip=$(cat "$dev/bank0/chip_name")
sys=/sys/devices/platform/$(cat "$dev/dev_name")/$chip
i=0
while [ $i -le 8 ]; do echo pull-up > "$sys/sim_gpio$i/pull"; i=$((i + 1)); done
ln -sfn "$sys" /run/gpio-sim
chgrp -R gpio "/dev/$chip" 2>/dev/null || true
chmod g+rw "/dev/$chip"

install -d /run/gatehouse-vm
{ cat /proc/cpuinfo; printf 'Hardware\t: BCM2835\nRevision\t: c03114\nSerial\t\t: 10000000000000vm\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n'; } \
  > /run/gatehouse-vm/cpuinfo
mount --bind /run/gatehouse-vm/cpuinfo /proc/cpuinfo
echo "gpio-sim $chip ready at $sys; line 17 reads $(cat "$sys/sim_gpio17/value")"
