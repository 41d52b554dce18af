"""The Gatehouse demo: a compound, its hub and simulated gates on one machine."""
