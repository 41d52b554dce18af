"""Edits Debian's gpio-sim.c and irq_sim.c (6.1) so they build as one out-of-tree module
that behaves like a Raspberry Pi's GPIO on release. Run at image build time only: no
kernel source is kept in the project. Fails loudly when the source no longer matches."""
import re
import sys

core_path, irq_path = sys.argv[1:3]

core = open(core_path).read()
# 1. The option. Upstream returns a released line to its pull; a Pi keeps an output at
#    the level it was last driven to, so a killed process can leave the strike energised.
option = '''
static bool persist_outputs;
module_param(persist_outputs, bool, 0644);
MODULE_PARM_DESC(persist_outputs,
		 "keep a released output line at its last level (as Raspberry Pi kernels do)");

static void gpio_sim_free('''
assert core.count("static void gpio_sim_free(") == 1, "gpio_sim_free not found"
core = core.replace("\nstatic void gpio_sim_free(", option, 1)
# 2. In gpio_sim_free: skip the return to the pull for an output when the option is set
#    (a set bit in direction_map means input).
release = re.compile(r"(\n(\s*)__assign_bit\(offset, chip->value_map, "
                     r"!!test_bit\(offset, chip->pull_map\)\);)")
m = release.search(core[core.index("gpio_sim_free(struct"):])
assert m, "the release-to-pull line in gpio_sim_free changed"
indent = m.group(2)
guarded = (f"\n{indent}if (!persist_outputs || test_bit(offset, chip->direction_map))"
           f"\n{indent}\t__assign_bit(offset, chip->value_map, "
           f"!!test_bit(offset, chip->pull_map));")
start = core.index("gpio_sim_free(struct")
core = core[:start] + core[start:].replace(m.group(1), guarded, 1)
open(core_path, "w").write(core)

irq = open(irq_path).read()
# 3. irq_to_desc is not exported to modules in 6.1; generic_handle_irq(irq) does the same
#    lookup and calls the flow handler (handle_simple_irq for this chip).
old = "handle_simple_irq(irq_to_desc(irqnum));"
assert irq.count(old) == 1, "irq_sim.c changed"
irq = irq.replace(old, "generic_handle_irq(irqnum);")
open(irq_path, "w").write(irq)
print("patched", core_path, irq_path)
